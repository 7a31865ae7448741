"""Projects and the Data Access Committee: the Five Safes application, review, countersignature,
expiry, and the Safe Projects register.

A project is **active** only when all of these hold (otherwise it is refused everywhere):

1. the DAC approved it: at least ``DAC_QUORUM`` members reviewed it, at least one of them a lay
   member, and none rejected it (each member's latest review counts; ``conditions`` approves
   with conditions, which the register publishes);
2. the node's controller (a node administrator) countersigned it after the DAC approval;
3. today is on or before its expiry date.

Safe people are checked at application and again at every access: an accredited researcher's
accreditation must be current, and everyone's information-governance training must be within
``IG_TRAINING_VALID_DAYS``.

Safe data is pinned twice: the variables (the columns a job may read) and the **cohort**
(``joinedup.govern.cohort``: the children a job's view holds), stored as canonical JSON with its
SHA-256. A project recorded before cohorts were pinned has none (``cohort_spec`` None): it is
refused at job time (see ``joinedup.govern.decide``) and must re-apply, never given everyone.

Invariants: the application holds no row value; datasets and variables are names of secondary
views and their columns (``view__secondary__<table>.<column>``).
"""

# SQL here is assembled from this module's own constants (table and column names), never
# from values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

import duckdb

from joinedup.errors import UsageError
from joinedup.govern.cohort import CohortSpec, parse_cohort_text
from joinedup.govern.model import Actor, Role
from joinedup.model import Purpose

DAC_QUORUM = 2
IG_TRAINING_VALID_DAYS = 365
MAX_PROJECT_YEARS = 5

# Lawful bases a project may give, by purpose (UK GDPR articles; DPA 2018).
LAWFUL_BASES: dict[Purpose, frozenset[str]] = {
    Purpose.PLANNING: frozenset({"6(1)(e)+9(2)(h)"}),
    Purpose.POPULATION_HEALTH: frozenset({"6(1)(e)+9(2)(i)", "6(1)(e)+9(2)(h)"}),
    Purpose.RESEARCH: frozenset({"6(1)(e)+9(2)(j)+s251", "6(1)(e)+9(2)(j)+consent"}),
    Purpose.EVALUATION: frozenset({"6(1)(e)+9(2)(h)", "6(1)(e)+9(2)(j)+s251"}),
}


class Setting(StrEnum):
    """Safe setting: where the project's code meets the data."""

    NODE = "node"  # node analysts inside the node
    JOBS = "jobs"  # approved code runs in the node; only checked outputs come back
    SYNTHETIC = "synthetic"  # the synthetic twin only


class Review(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    CONDITIONS = "conditions"


class ProjectState(StrEnum):
    APPLIED = "applied"  # awaiting DAC
    REJECTED = "rejected"
    DAC_APPROVED = "dac_approved"  # awaiting the node's countersignature
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectSpec:
    """A Five Safes application."""

    title: str
    purpose: Purpose
    members: tuple[str, ...]  # actor ids (safe people), the applicant included
    lay_summary: str
    public_benefit: str  # safe project
    legal_basis: str  # safe project: one of LAWFUL_BASES[purpose]
    datasets: tuple[str, ...]  # safe data: secondary views
    variables: tuple[str, ...]  # safe data: minimum variables, view.column
    cohort: str  # safe data: why this cohort is the minimum needed, in the applicant's words
    # safe data: the approved cohort itself; no default, so every application states one.
    # None only for a project recorded before cohorts were pinned (refused at job time).
    cohort_spec: CohortSpec | None
    setting: Setting  # safe setting
    outputs: str  # safe outputs: intended outputs (each checked before release)
    expires_on: date
    ethics_reference: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    project_id: str
    applicant_id: str
    applied_on: date
    spec: ProjectSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectStatus:
    project: Project
    state: ProjectState
    why: str
    dac_decided_at: datetime | None
    countersigned_at: datetime | None
    conditions: tuple[str, ...]

    @property
    def is_active(self) -> bool:
        return self.state is ProjectState.ACTIVE


def safe_people_problems(actor: Actor, purpose: Purpose, today: date) -> list[str]:
    """Why ``actor`` is not (now) a safe person for a project of ``purpose``; empty if they are."""
    problems: list[str] = []
    trained = actor.ig_training_on
    if trained is None or (today - trained).days > IG_TRAINING_VALID_DAYS:
        problems.append(
            f"actor {actor.actor_id} has no information-governance training within "
            f"{IG_TRAINING_VALID_DAYS} days"
        )
    if actor.role is Role.RESEARCHER and (
        actor.accredited_until is None or actor.accredited_until < today
    ):
        problems.append(f"actor {actor.actor_id} holds no current research accreditation")
    if purpose is Purpose.RESEARCH and actor.role not in (Role.RESEARCHER, Role.NODE_ANALYST):
        problems.append(f"actor {actor.actor_id} ({actor.role.value}) cannot do research")
    return problems


def _check_spec(spec: ProjectSpec, today: date) -> list[str]:
    problems: list[str] = []
    if spec.purpose is Purpose.DIRECT_CARE:
        problems.append("direct care needs no project: it rests on a legitimate relationship")
    elif spec.legal_basis not in LAWFUL_BASES[spec.purpose]:
        allowed = ", ".join(sorted(LAWFUL_BASES[spec.purpose]))
        problems.append(f"legal basis must be one of: {allowed}")
    for name, value in (
        ("title", spec.title),
        ("lay summary", spec.lay_summary),
        ("public benefit", spec.public_benefit),
        ("cohort", spec.cohort),
        ("outputs", spec.outputs),
    ):
        if not value.strip():
            problems.append(f"{name} is empty")
    if not spec.datasets:
        problems.append("name at least one dataset (a view__secondary__* view)")
    for dataset in spec.datasets:
        if not dataset.startswith("view__secondary__"):
            problems.append(
                f"dataset {dataset} is not a secondary view: projects read view__secondary__*"
            )
    for variable in spec.variables:
        table, _, column = variable.partition(".")
        if not column or table not in spec.datasets:
            problems.append(f"variable {variable} must be <dataset>.<column> of a named dataset")
    if not spec.variables:
        problems.append("list the minimum variables (<dataset>.<column>)")
    if spec.cohort_spec is None:
        problems.append(
            "give the cohort spec (the children the project may see; "
            '{"whole_population": true} for every child)'
        )
    if spec.purpose is Purpose.RESEARCH and spec.setting is Setting.NODE:
        problems.append("research reaches records only through jobs or the synthetic twin")
    if spec.expires_on <= today:
        problems.append("expiry must be after today")
    elif spec.expires_on > today + timedelta(days=365 * MAX_PROJECT_YEARS + 1):
        problems.append(f"a project lasts at most {MAX_PROJECT_YEARS} years")
    if not spec.members:
        problems.append("name the project's members")
    return problems


def application_problems(
    spec: ProjectSpec, *, applicant: Actor, members: list[Actor], today: date
) -> list[str]:
    """Every unmet safe of an application, in the form's order (empty when it may be
    recorded): what ``apply_project`` refuses, for a form that shows them all at once."""
    problems = _check_spec(spec, today)
    if applicant.actor_id not in spec.members:
        problems.append("the applicant must be a member of the project")
    for member in members:
        problems += safe_people_problems(member, spec.purpose, today)
    return problems


def apply_project(
    con: duckdb.DuckDBPyConnection,
    spec: ProjectSpec,
    *,
    applicant: Actor,
    members: list[Actor],
    today: date,
) -> Project:
    """Record an application; UsageError listing every unmet safe if it is incomplete."""
    problems = application_problems(spec, applicant=applicant, members=members, today=today)
    if problems:
        raise UsageError("the application is incomplete: " + "; ".join(problems))
    project = Project(
        project_id="P" + uuid.uuid4().hex[:10],
        applicant_id=applicant.actor_id,
        applied_on=today,
        spec=spec,
    )
    con.execute(
        f"INSERT INTO govern__projects ({_PROJECT_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            project.project_id,
            spec.title,
            spec.purpose.value,
            applicant.actor_id,
            json.dumps(list(spec.members)),
            spec.lay_summary,
            spec.public_benefit,
            spec.legal_basis,
            spec.ethics_reference,
            json.dumps(list(spec.datasets)),
            json.dumps(list(spec.variables)),
            spec.cohort,
            spec.setting.value,
            spec.outputs,
            today,
            spec.expires_on,
            None if spec.cohort_spec is None else spec.cohort_spec.canonical_json(),
            None if spec.cohort_spec is None else spec.cohort_spec.sha256,
        ],
    )
    return project


_PROJECT_COLUMNS = (
    "project_id, title, purpose, applicant_id, members, lay_summary, public_benefit, "
    "legal_basis, ethics_reference, datasets, variables, cohort, setting, outputs, applied_on, "
    "expires_on, cohort_spec, cohort_sha256"
)


def _project(row: tuple[object, ...]) -> Project:
    (pid, title, purpose, applicant, members, lay, benefit, basis, ethics, datasets, variables,
     cohort, setting, outputs, applied, expires, cohort_json, cohort_sha) = row  # fmt: skip
    assert isinstance(applied, date) and isinstance(expires, date)
    return Project(
        project_id=str(pid),
        applicant_id=str(applicant),
        applied_on=applied,
        spec=ProjectSpec(
            title=str(title),
            purpose=Purpose(str(purpose)),
            members=tuple(json.loads(str(members))),
            lay_summary=str(lay),
            public_benefit=str(benefit),
            legal_basis=str(basis),
            ethics_reference=None if ethics is None else str(ethics),
            datasets=tuple(json.loads(str(datasets))),
            variables=tuple(json.loads(str(variables))),
            cohort=str(cohort),
            cohort_spec=_stored_cohort(pid, cohort_json, cohort_sha),
            setting=Setting(str(setting)),
            outputs=str(outputs),
            expires_on=expires,
        ),
    )


def _stored_cohort(project_id: object, text: object, sha: object) -> CohortSpec | None:
    if text is None:
        return None  # recorded before cohorts were pinned
    spec = parse_cohort_text(str(text), source=f"project {project_id}'s stored cohort")
    if spec.sha256 != sha:
        raise UsageError(
            f"project {project_id}'s stored cohort no longer matches its approved SHA-256; "
            "the node administrator should investigate the governance database"
        )
    return spec


def get_project(con: duckdb.DuckDBPyConnection, project_id: str) -> Project | None:
    row = con.execute(
        f"SELECT {_PROJECT_COLUMNS} FROM govern__projects WHERE project_id = ?", [project_id]
    ).fetchone()
    return None if row is None else _project(tuple(row))


def list_projects(con: duckdb.DuckDBPyConnection) -> list[Project]:
    rows = con.execute(
        f"SELECT {_PROJECT_COLUMNS} FROM govern__projects ORDER BY applied_on, project_id"
    ).fetchall()
    return [_project(tuple(r)) for r in rows]


def _require_project(con: duckdb.DuckDBPyConnection, project_id: str) -> Project:
    project = get_project(con, project_id)
    if project is None:
        raise UsageError(f"no project {project_id} (see: joinedup project list)")
    return project


def review_project(
    con: duckdb.DuckDBPyConnection,
    project_id: str,
    *,
    reviewer: Actor,
    decision: Review,
    conditions: str | None = None,
    today: date,
) -> ProjectStatus:
    """Record one DAC member's review (a later review by the same member replaces theirs)."""
    _require_project(con, project_id)
    if reviewer.role is not Role.DAC_MEMBER:
        raise UsageError(f"actor {reviewer.actor_id} is not a DAC member")
    if decision is Review.CONDITIONS and not (conditions or "").strip():
        raise UsageError("a review with conditions must state them (--conditions)")
    if project_status(con, project_id, today).countersigned_at is not None:
        raise UsageError(f"project {project_id} is countersigned; its review is closed")
    con.execute(
        "INSERT INTO govern__project_reviews VALUES (?, ?, ?, ?, ?, ?)",
        [
            project_id,
            reviewer.actor_id,
            reviewer.is_lay,
            decision.value,
            conditions,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )
    return project_status(con, project_id, today)


def countersign_project(
    con: duckdb.DuckDBPyConnection, project_id: str, *, signer: Actor, today: date
) -> ProjectStatus:
    """The node's controller countersigns a DAC-approved project."""
    status = project_status(con, project_id, today)
    if signer.role is not Role.NODE_ADMIN:
        raise UsageError(f"actor {signer.actor_id} is not a node administrator")
    if status.state is not ProjectState.DAC_APPROVED:
        raise UsageError(
            f"project {project_id} cannot be countersigned: {status.state.value} ({status.why})"
        )
    con.execute(
        "INSERT INTO govern__project_signatures VALUES (?, ?, ?)",
        [project_id, signer.actor_id, datetime.now(UTC).replace(tzinfo=None)],
    )
    return project_status(con, project_id, today)


def project_status(con: duckdb.DuckDBPyConnection, project_id: str, today: date) -> ProjectStatus:
    project = _require_project(con, project_id)
    reviews = con.execute(
        "SELECT reviewer_id, arg_max(is_lay, reviewed_at), arg_max(decision, reviewed_at), "
        "arg_max(conditions, reviewed_at), max(reviewed_at) FROM govern__project_reviews "
        "WHERE project_id = ? GROUP BY reviewer_id",
        [project_id],
    ).fetchall()
    signed = con.execute(
        "SELECT min(signed_at) FROM govern__project_signatures WHERE project_id = ?",
        [project_id],
    ).fetchone()
    countersigned_at = signed[0] if signed else None
    decisions = [str(r[2]) for r in reviews]
    conditions = tuple(sorted(str(r[3]) for r in reviews if r[3]))
    decided_at = max((r[4] for r in reviews), default=None)

    def status(state: ProjectState, why: str) -> ProjectStatus:
        return ProjectStatus(
            project=project,
            state=state,
            why=why,
            dac_decided_at=decided_at if state is not ProjectState.APPLIED else None,
            countersigned_at=countersigned_at,
            conditions=conditions,
        )

    if Review.REJECT.value in decisions:
        return status(ProjectState.REJECTED, "a DAC member rejected it")
    if len(reviews) < DAC_QUORUM:
        return status(
            ProjectState.APPLIED,
            f"{len(reviews)} of {DAC_QUORUM} DAC reviews (partly signed: not approved)",
        )
    if not any(bool(r[1]) for r in reviews):
        return status(ProjectState.APPLIED, "no lay member of the DAC has reviewed it")
    if countersigned_at is None:
        return status(ProjectState.DAC_APPROVED, "awaiting the node's countersignature")
    if today > project.spec.expires_on:
        return status(ProjectState.EXPIRED, f"expired on {project.spec.expires_on.isoformat()}")
    return status(ProjectState.ACTIVE, "DAC-approved, countersigned and in date")


def record_release(
    con: duckdb.DuckDBPyConnection, project_id: str, output_name: str, released_on: date
) -> None:
    """Note an output released for a project (for the transparency register)."""
    _require_project(con, project_id)
    con.execute(
        "INSERT INTO govern__released_outputs VALUES (?, ?, ?)",
        [project_id, output_name, released_on],
    )
