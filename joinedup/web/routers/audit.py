"""The audit log for those who oversee the node: the latest decisions and the chain's check.

Invariants: behind ``read_audit`` (node administrators and the DAC); shows what the chain holds
(actor, role, action, resource, outcome, reason), which never includes a row value; verifies the
whole chain on every view, so a tampered log is visible at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from joinedup.govern import Action, ResourceKind
from joinedup.govern.audit import read_events, verify_audit
from joinedup.govern.database import open_govern
from joinedup.web.governance import Granted, Requirement, require
from joinedup.web.pages import PageLink, render_granted

router = APIRouter()

SHOWN = 200
AUDIT = Requirement(
    action=Action.READ_AUDIT, resource_kind=ResourceKind.AUDIT, name="audit__events"
)
LINKS: tuple[PageLink, ...] = (
    PageLink(
        path="/audit",
        title="Audit log",
        summary="Every decision this node made, allowed or refused, and whether the chain is "
        "intact.",
        requirement=AUDIT,
    ),
)

AuditPage = Annotated[
    Granted,
    Depends(require(Action.READ_AUDIT, ResourceKind.AUDIT, name="audit__events")),
]


@router.get("/audit")
async def audit(
    request: Request, granted: AuditPage, outcome: str = "", public: str = ""
) -> Response:
    """The latest events; reads of public pages (sign-in, stylesheet, register) only on request,
    since every page view adds one and they would hide the decisions that matter."""
    node = request.app.state.settings.node
    with open_govern(node) as con:
        events = read_events(con)
    if public != "yes":
        events = [e for e in events if e.action != Action.READ_PUBLIC.value]
    if outcome in ("allow", "deny"):
        events = [e for e in events if e.outcome == outcome]
    check = verify_audit(node)
    return render_granted(
        request,
        granted,
        "audit.html",
        {
            "events": list(reversed(events[-SHOWN:])),
            "check": check,
            "outcome": outcome,
            "public": public == "yes",
            "shown": SHOWN,
        },
    )
