"""Project applications and their review by the Data Access Committee (DAC).

A researcher, analyst or commissioner applies with the Five Safes form; DAC members review
(approve, approve with conditions, reject); the node's administrator countersigns an approved
project. The register's rules (quorum, a lay member, safe people) are ``joinedup.govern``'s; this
router only collects the form and shows the state.

Invariants: every page and form goes through ``require`` (``list_projects``, ``apply_project``,
``review_project``, ``countersign_project``); a refused or incomplete application is shown back
with the reason, nothing half-written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from joinedup.errors import UsageError
from joinedup.govern import Action, Actor, ResourceKind, Role
from joinedup.govern.cohort import CohortError, parse_cohort_text
from joinedup.govern.database import open_govern
from joinedup.govern.projects import (
    LAWFUL_BASES,
    ProjectSpec,
    Review,
    Setting,
    application_problems,
    apply_project,
    countersign_project,
    get_project,
    list_projects,
    project_status,
    review_project,
)
from joinedup.model import Purpose
from joinedup.web.governance import Granted, Requirement, require
from joinedup.web.pages import PageLink, render_granted

router = APIRouter()

LIST = Requirement(action=Action.LIST_PROJECTS, resource_kind=ResourceKind.PROJECT)
APPLY = Requirement(action=Action.APPLY_PROJECT, resource_kind=ResourceKind.PROJECT)
LINKS: tuple[PageLink, ...] = (
    PageLink(
        path="/projects/new",
        title="Apply for a project",
        summary="Ask the Data Access Committee to approve a project: purpose, data, setting, "
        "outputs and public benefit.",
        requirement=APPLY,
    ),
    PageLink(
        path="/projects",
        title="Projects",
        summary="Applications, their DAC reviews and the node's countersignature.",
        requirement=LIST,
    ),
)

ListPage = Annotated[
    Granted,
    Depends(require(Action.LIST_PROJECTS, ResourceKind.PROJECT, name="govern__projects")),
]
ApplyPage = Annotated[
    Granted, Depends(require(Action.APPLY_PROJECT, ResourceKind.PROJECT, name="new"))
]
ProjectPage = Annotated[Granted, Depends(require(Action.LIST_PROJECTS, ResourceKind.PROJECT))]
ReviewForm = Annotated[Granted, Depends(require(Action.REVIEW_PROJECT, ResourceKind.PROJECT))]
CountersignForm = Annotated[
    Granted, Depends(require(Action.COUNTERSIGN_PROJECT, ResourceKind.PROJECT))
]

RESEARCH_PURPOSES = (Purpose.RESEARCH, Purpose.EVALUATION, Purpose.PLANNING,
                     Purpose.POPULATION_HEALTH)  # fmt: skip


def _today() -> date:
    return datetime.now(UTC).date()


def _lines(value: object) -> tuple[str, ...]:
    text = str(value or "").replace(",", "\n")
    return tuple(part.strip() for part in text.splitlines() if part.strip())


def _form_context(values: dict[str, str], errors: list[str] | None = None) -> dict[str, object]:
    return {
        "values": values,
        "errors": errors or [],
        "purposes": RESEARCH_PURPOSES,
        "settings": tuple(Setting),
        "bases": {p.value: sorted(LAWFUL_BASES[p]) for p in RESEARCH_PURPOSES},
    }


def _read_application(
    values: dict[str, str], actor: Actor, today: date
) -> tuple[ProjectSpec, list[str]]:
    """The form as a spec, with every problem of it at once: what could not be read (purpose,
    setting, cohort spec, end date) and what ``application_problems`` finds in the rest. A field
    that could not be read is checked as a harmless stand-in so its one problem is told once."""
    unreadable: list[str] = []
    try:
        purpose = Purpose(values.get("purpose", "research"))
    except ValueError:
        unreadable.append("choose a purpose from the list")
        purpose = Purpose.RESEARCH
    try:
        setting = Setting(values.get("setting", "jobs"))
    except ValueError:
        unreadable.append("choose a setting from the list")
        setting = Setting.JOBS
    try:
        cohort_spec = parse_cohort_text(values.get("cohort_spec", ""), source="the cohort")
    except CohortError as exc:
        unreadable.append(str(exc))
        cohort_spec = parse_cohort_text('{"whole_population": true}')
    try:
        expires_on = date.fromisoformat(values.get("expires_on", "").strip())
    except ValueError:
        unreadable.append("write the end date as YYYY-MM-DD")
        expires_on = today + timedelta(days=1)
    spec = ProjectSpec(
        title=values.get("title", "").strip(),
        purpose=purpose,
        members=(actor.actor_id,),
        lay_summary=values.get("lay_summary", "").strip(),
        public_benefit=values.get("public_benefit", "").strip(),
        legal_basis=values.get("legal_basis", "").strip(),
        datasets=_lines(values.get("datasets")),
        variables=_lines(values.get("variables")),
        cohort=values.get("cohort", "").strip(),
        cohort_spec=cohort_spec,
        setting=setting,
        outputs=values.get("outputs", "").strip(),
        expires_on=expires_on,
        ethics_reference=values.get("ethics_reference", "").strip() or None,
    )
    problems = application_problems(spec, applicant=actor, members=[actor], today=today)
    return spec, unreadable + problems


@router.get("/projects")
async def projects(request: Request, granted: ListPage) -> Response:
    today = _today()
    with open_govern(request.app.state.settings.node) as con:
        rows = [project_status(con, p.project_id, today) for p in list_projects(con)]
    return render_granted(request, granted, "projects.html", {"statuses": rows})


@router.get("/projects/new")
async def application_form(request: Request, granted: ApplyPage) -> Response:
    return render_granted(request, granted, "project_new.html", _form_context({}))


@router.post("/projects/new")
async def apply(request: Request, granted: ApplyPage) -> Response:
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if key != "csrf_token"}
    actor = granted.viewer.actor
    assert actor is not None  # the door admits no anonymous visitor here
    today = _today()
    spec, problems = _read_application(values, actor, today)
    if not problems:
        try:
            with open_govern(request.app.state.settings.node) as con:
                project = apply_project(con, spec, applicant=actor, members=[actor], today=today)
        except UsageError as exc:
            problems = [str(exc)]
    if problems:
        context = _form_context(values, problems)
        return render_granted(request, granted, "project_new.html", context, status_code=400)
    return RedirectResponse(f"/projects/{project.project_id}", status_code=303)


@router.get("/projects/{project_id}")
async def project(request: Request, project_id: str, granted: ProjectPage) -> Response:
    today = _today()
    with open_govern(request.app.state.settings.node) as con:
        if get_project(con, project_id) is None:
            raise HTTPException(status_code=404)
        status = project_status(con, project_id, today)
        reviews = con.execute(
            "SELECT reviewer_id, is_lay, decision, conditions, reviewed_at "
            "FROM govern__project_reviews WHERE project_id = ? ORDER BY reviewed_at",
            [project_id],
        ).fetchall()
    role = granted.viewer.role
    return render_granted(
        request,
        granted,
        "project.html",
        {
            "status": status,
            "reviews": reviews,
            "may_review": role is Role.DAC_MEMBER and status.countersigned_at is None,
            "may_countersign": role is Role.NODE_ADMIN and status.state.value == "dac_approved",
        },
    )


@router.post("/projects/{project_id}/review")
async def review(request: Request, project_id: str, granted: ReviewForm) -> Response:
    form = await request.form()
    actor = granted.viewer.actor
    assert actor is not None
    try:
        decision = Review(str(form.get("decision", "")))
        conditions = str(form.get("conditions", "")).strip() or None
        with open_govern(request.app.state.settings.node) as con:
            review_project(
                con,
                project_id,
                reviewer=actor,
                decision=decision,
                conditions=conditions,
                today=_today(),
            )
    except ValueError:
        raise UsageError("choose approve, approve with conditions, or reject") from None
    return RedirectResponse(f"/projects/{project_id}", status_code=303)


@router.post("/projects/{project_id}/countersign")
async def countersign(request: Request, project_id: str, granted: CountersignForm) -> Response:
    actor = granted.viewer.actor
    assert actor is not None
    with open_govern(request.app.state.settings.node) as con:
        countersign_project(con, project_id, signer=actor, today=_today())
    return RedirectResponse(f"/projects/{project_id}", status_code=303)
