"""Citizens: opt a child out of every secondary use (or withdraw the opt-out), and give or change
consent to contact.

A parent (or a young person, from 13) names the child by NHS number or UPN and date of birth;
``joinedup.govern.identify`` turns them at once into the node's keyed pseudonym, which is all the
registers keep. The age rules (who may ask for whom) are the registers'.

Invariants: every form goes through ``require`` (``record_optout``, ``withdraw_optout``,
``record_consent``) and the registers' own checks; the identifiers typed are never stored,
logged or shown back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from joinedup.errors import UsageError
from joinedup.govern import Action, ResourceKind
from joinedup.govern.consent import ConsentLevel, GivenBy, record_consent
from joinedup.govern.database import open_govern
from joinedup.govern.identify import ChildKey, identify_child
from joinedup.govern.optout import RequestedBy, record_optout, withdraw_optout
from joinedup.store.secondary import DISSENT_TABLE
from joinedup.web.governance import Granted, Requirement, require
from joinedup.web.pages import PageLink, render_granted

router = APIRouter()

INFORMATION_SHEET_VERSION = "web-2026-1"
OPT_OUT = Requirement(
    action=Action.RECORD_OPTOUT, resource_kind=ResourceKind.REGISTER, name=DISSENT_TABLE
)
WITHDRAW = Requirement(
    action=Action.WITHDRAW_OPTOUT, resource_kind=ResourceKind.REGISTER, name=DISSENT_TABLE
)
CONSENT = Requirement(
    action=Action.RECORD_CONSENT, resource_kind=ResourceKind.REGISTER, name="govern__consent"
)
LINKS: tuple[PageLink, ...] = (
    PageLink(
        path="/opt-out",
        title="Opt your child out",
        summary="Keep your child's records out of planning, research and evaluation. Care "
        "for your child is not affected.",
        requirement=OPT_OUT,
    ),
    PageLink(
        path="/opt-out/withdraw",
        title="Withdraw an opt-out",
        summary="Changed your mind? Let your child's records count again in planning, research "
        "and evaluation.",
        requirement=WITHDRAW,
    ),
    PageLink(
        path="/consent",
        title="Consent to be contacted",
        summary="Say whether researchers may invite your family to take part in studies.",
        requirement=CONSENT,
    ),
)

OptOutPage = Annotated[
    Granted,
    Depends(require(Action.RECORD_OPTOUT, ResourceKind.REGISTER, name=DISSENT_TABLE)),
]
WithdrawPage = Annotated[
    Granted,
    Depends(require(Action.WITHDRAW_OPTOUT, ResourceKind.REGISTER, name=DISSENT_TABLE)),
]
ConsentPage = Annotated[
    Granted,
    Depends(require(Action.RECORD_CONSENT, ResourceKind.REGISTER, name="govern__consent")),
]


def _child_from(request: Request, form: dict[str, str]) -> ChildKey:
    kind = form.get("identifier_kind", "nhs_number")
    identifier = form.get("identifier", "").strip()
    try:
        born = date.fromisoformat(form.get("date_of_birth", "").strip())
    except ValueError:
        raise UsageError("write the date of birth as YYYY-MM-DD, e.g. 2019-04-27") from None
    return identify_child(
        request.app.state.settings.node,
        date_of_birth=born,
        today=datetime.now(UTC).date(),
        nhs_number=identifier if kind == "nhs_number" else None,
        upn=identifier if kind == "upn" else None,
    )


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(value) for key, value in form.items()}


@router.get("/opt-out")
async def opt_out_page(request: Request, granted: OptOutPage) -> Response:
    return render_granted(request, granted, "opt_out.html", {})


@router.post("/opt-out")
async def opt_out(request: Request, granted: OptOutPage) -> Response:
    form = await _form(request)
    actor = granted.viewer.actor
    assert actor is not None
    try:
        child = _child_from(request, form)
        requested_by = RequestedBy(form.get("requested_by", "parent"))
        with open_govern(request.app.state.settings.node) as con:
            record_optout(con, child, requested_by=requested_by, actor=actor)
    except (UsageError, ValueError) as exc:
        message = str(exc) if isinstance(exc, UsageError) else "choose who is asking"
        return render_granted(request, granted, "opt_out.html", {"error": message}, status_code=400)
    return render_granted(request, granted, "opt_out.html", {"done": True})


@router.get("/opt-out/withdraw")
async def withdraw_page(request: Request, granted: WithdrawPage) -> Response:
    return render_granted(request, granted, "withdraw_opt_out.html", {})


@router.post("/opt-out/withdraw")
async def withdraw(request: Request, granted: WithdrawPage) -> Response:
    form = await _form(request)
    actor = granted.viewer.actor
    assert actor is not None
    try:
        child = _child_from(request, form)
        requested_by = RequestedBy(form.get("requested_by", "parent"))
        with open_govern(request.app.state.settings.node) as con:
            withdraw_optout(con, child, requested_by=requested_by, actor=actor)
    except (UsageError, ValueError) as exc:
        message = str(exc) if isinstance(exc, UsageError) else "choose who is asking"
        return render_granted(
            request, granted, "withdraw_opt_out.html", {"error": message}, status_code=400
        )
    return render_granted(request, granted, "withdraw_opt_out.html", {"done": True})


@router.get("/consent")
async def consent_page(request: Request, granted: ConsentPage) -> Response:
    return render_granted(request, granted, "consent.html", {"sheet": INFORMATION_SHEET_VERSION})


@router.post("/consent")
async def consent(request: Request, granted: ConsentPage) -> Response:
    form = await _form(request)
    actor = granted.viewer.actor
    assert actor is not None
    context: dict[str, object] = {"sheet": INFORMATION_SHEET_VERSION}
    try:
        if form.get("read_sheet") != "yes":
            raise UsageError("confirm that you have read the information sheet")
        child = _child_from(request, form)
        level = ConsentLevel(form.get("level", ""))
        given_by = GivenBy(form.get("given_by", "parent"))
        with open_govern(request.app.state.settings.node) as con:
            record_consent(
                con,
                child,
                level=level,
                given_by=given_by,
                information_sheet_version=INFORMATION_SHEET_VERSION,
                actor=actor,
                today=datetime.now(UTC).date(),
            )
    except (UsageError, ValueError) as exc:
        context["error"] = str(exc) if isinstance(exc, UsageError) else "choose an answer"
        return render_granted(request, granted, "consent.html", context, status_code=400)
    context["done"] = level.value
    return render_granted(request, granted, "consent.html", context)
