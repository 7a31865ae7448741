"""The child view for direct care: one child's linked timeline across agencies.

A practitioner finds a child by NHS number or UPN with the date of birth (turned at once into the
node's keyed pseudonym by ``joinedup.govern.identify``; the identifiers are not kept), and sees
the child's record only if ``decide`` finds a legitimate relationship between the practitioner's
organisation and the child (read, person, L0, direct care). Every view, allowed or refused, is an
audit event; the page says which. Refused for want of a relationship, a practitioner may ask for
emergency access (break-glass) with a typed reason: ``decide`` allows it, records it and raises an
alert to the safeguarding lead.

Invariants: the record is read only after an allowing decision about that very child; the page
shows store facts (pseudonymous timeline, month of birth), never an identifier; a lookup that
finds no child says so, and is recorded as a refused read naming no child.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from joinedup.errors import AccessDenied, UsageError
from joinedup.govern import Action, Resource, ResourceKind
from joinedup.govern.identify import identify_child
from joinedup.model import DataLevel, Purpose
from joinedup.web.governance import Granted, PageDecision, Requirement, decide_for, require
from joinedup.web.pages import PageLink, render_granted

router = APIRouter()

CHILD_RECORD = Requirement(
    action=Action.READ,
    resource_kind=ResourceKind.PERSON,
    purpose=Purpose.DIRECT_CARE,
    level=DataLevel.L0_IDENTIFIABLE,
)
LINKS: tuple[PageLink, ...] = (
    PageLink(
        path="/children",
        title="Find a child",
        summary="See one child's record across school, health, social care, police and "
        "housing, if your organisation serves the child.",
        requirement=CHILD_RECORD,
    ),
)

# The search form is open to every signed-in role; what it finds is decided per child.
SearchPage = Annotated[
    Granted, Depends(require(Action.READ_PUBLIC, ResourceKind.NODE, name="child-search"))
]
ChildPage = Annotated[
    Granted,
    Depends(
        require(
            Action.READ,
            ResourceKind.PERSON,
            Purpose.DIRECT_CARE,
            level=DataLevel.L0_IDENTIFIABLE,
        )
    ),
]

BreakGlassForm = Annotated[
    Granted,
    Depends(
        require(
            Action.READ,
            ResourceKind.PERSON,
            Purpose.DIRECT_CARE,
            level=DataLevel.L0_IDENTIFIABLE,
            break_glass=True,
        )
    ),
]

AGENCY_OF_SOURCE = {
    "school_census": "education",
    "attendance": "education",
    "exclusions": "education",
    "eyfsp": "education",
    "ks2": "education",
    "gp_events": "health",
    "hcp_review": "health",
    "ncmp": "health",
    "hospital_apc": "health",
    "cin": "social_care",
    "ssda903": "social_care",
    "police": "police",
    "housing": "housing",
}
EVENT_LABELS = {
    "on_roll": "On roll at school (census)",
    "attendance_term": "Attendance, term",
    "exclusion": "Suspension or exclusion",
    "eyfsp": "Early years foundation stage profile",
    "ks2": "Key stage 2 assessment",
    "development_check": "Health visitor development review",
    "ncmp": "Child measurement (NCMP)",
    "gp_registration": "Registered with a GP practice",
    "gp_event": "GP record entry",
    "admission": "Hospital admission",
    "cin_referral": "Referral to children's social care",
    "assessment": "Social care assessment",
    "child_protection_plan": "Child protection plan",
    "cla_episode": "Looked after (care episode)",
    "missing_episode": "Missing episode",
    "housing_approach": "Family approached housing services",
    "temporary_accommodation": "Family in temporary accommodation",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEvent:
    event_date: date
    source: str
    agency: str
    label: str
    detail: str | None


def _label(event_type: str) -> str:
    if event_type.startswith("police_"):
        return f"Police record ({event_type.removeprefix('police_')})"
    return EVENT_LABELS.get(event_type, event_type.replace("_", " "))


def _read_record(request: Request, person_id: str) -> tuple[dict[str, Any] | None, list[Any]]:
    node = request.app.state.settings.node
    with duckdb.connect(str(node.store_path), read_only=True) as con:
        person = con.execute(
            "SELECT birth_month, sex, ethnicity, first_language, sources, first_seen, last_seen, "
            "is_link_conflict FROM store__person WHERE person_id = ?",
            [person_id],
        ).fetchone()
        rows = con.execute(
            "SELECT event_date, source, event_type, detail_code FROM store__timeline "
            "WHERE person_id = ? AND event_date IS NOT NULL ORDER BY event_date DESC, source",
            [person_id],
        ).fetchall()
    facts = None
    if person is not None:
        keys = ("birth_month", "sex", "ethnicity", "first_language", "sources", "first_seen",
                "last_seen", "is_link_conflict")  # fmt: skip
        facts = dict(zip(keys, person, strict=True))
    events = [
        TimelineEvent(
            event_date=row[0],
            source=str(row[1]),
            agency=AGENCY_OF_SOURCE.get(str(row[1]), "other"),
            label=_label(str(row[2])),
            detail=None if row[3] is None else str(row[3]),
        )
        for row in rows
    ]
    return facts, events


def _child_page(
    request: Request, granted: Granted, person_id: str, decision: PageDecision
) -> Response:
    facts, events = _read_record(request, person_id)
    by_year: dict[int, list[TimelineEvent]] = {}
    for event in events:
        by_year.setdefault(event.event_date.year, []).append(event)
    agencies = sorted({event.agency for event in events})
    return render_granted(
        request,
        granted,
        "child.html",
        {
            "person_id": person_id,
            "facts": facts,
            "by_year": by_year,
            "agencies": agencies,
            "events": len(events),
            "decision": decision,
        },
    )


@router.get("/children")
async def search_page(request: Request, granted: SearchPage) -> Response:
    return render_granted(request, granted, "child_search.html", {})


@router.post("/children")
async def search(request: Request, granted: SearchPage) -> Response:
    form = await request.form()
    kind = str(form.get("identifier_kind", "nhs_number"))
    identifier = str(form.get("identifier", "")).strip()
    born = str(form.get("date_of_birth", "")).strip()
    node = request.app.state.settings.node
    try:
        date_of_birth = date.fromisoformat(born)
        key = identify_child(
            node,
            date_of_birth=date_of_birth,
            today=datetime.now(UTC).date(),
            nhs_number=identifier if kind == "nhs_number" else None,
            upn=identifier if kind == "upn" else None,
        )
    except (ValueError, UsageError) as exc:
        message = str(exc) if isinstance(exc, UsageError) else "write the date as YYYY-MM-DD"
        return render_granted(
            request, granted, "child_search.html", {"error": message}, status_code=400
        )
    with duckdb.connect(str(node.store_path), read_only=True) as con:
        # A UPN key does not hold the date of birth: the person's month of birth must agree.
        found = con.execute(
            "SELECT l.person_id FROM link__subject_person l "
            "JOIN store__person p USING (person_id) "
            "WHERE l.namespace = ? AND l.subject_key = ? AND p.birth_month = ?",
            [key.namespace, key.subject_key, key.birth_month],
        ).fetchone()
    if found is None:
        # A search that finds nobody is recorded too (as a refusal naming no child), so that
        # probing the node for who is in it shows in the audit log.
        decide_for(
            request,
            granted.viewer,
            action=Action.READ,
            resource=Resource(
                kind=ResourceKind.PERSON, name="store__timeline", level=DataLevel.L0_IDENTIFIABLE
            ),
            purpose=Purpose.DIRECT_CARE,
        )
        return render_granted(
            request,
            granted,
            "child_search.html",
            {"error": "No child with these details is known to this node."},
            status_code=404,
        )
    person_id = str(found[0])
    decision = decide_for(
        request,
        granted.viewer,
        action=Action.READ,
        resource=Resource(
            kind=ResourceKind.PERSON,
            name="store__timeline",
            level=DataLevel.L0_IDENTIFIABLE,
            person_id=person_id,
        ),
        purpose=Purpose.DIRECT_CARE,
    )
    if not decision.allowed:
        raise AccessDenied(decision.reason)
    return _child_page(request, granted, person_id, decision)


@router.get("/children/{person_id}")
async def child(request: Request, person_id: str, granted: ChildPage) -> Response:
    return _child_page(request, granted, person_id, granted.decision)


@router.post("/children/{person_id}/break-glass")
async def break_glass(request: Request, person_id: str, granted: BreakGlassForm) -> Response:
    """Emergency access without a relationship: allowed with a reason, and an alert is raised
    to the node's safeguarding lead (``decide`` does both)."""
    return _child_page(request, granted, person_id, granted.decision)
