"""The public transparency register: what this node's data are used for, open to everyone.

Built by ``joinedup.govern.transparency.build_register`` from the project register; this page
only lays it out. Invariants: readable without signing in (``read_public``); shows project-level
facts only, never a person or an actor's name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from joinedup.govern import Action, ResourceKind
from joinedup.govern.database import open_govern
from joinedup.govern.transparency import build_register
from joinedup.web.governance import Granted, Requirement, require
from joinedup.web.pages import PageLink, render_granted

router = APIRouter()

REGISTER = Requirement(
    action=Action.READ_PUBLIC, resource_kind=ResourceKind.REGISTER, name="transparency"
)
LINKS: tuple[PageLink, ...] = (
    PageLink(
        path="/transparency",
        title="Transparency register",
        summary="Every project that asked to use this node's data: why, with what, and what "
        "it published.",
        requirement=REGISTER,
    ),
)

RegisterPage = Annotated[
    Granted,
    Depends(require(Action.READ_PUBLIC, ResourceKind.REGISTER, name="transparency")),
]


@router.get("/transparency")
async def transparency(request: Request, granted: RegisterPage) -> Response:
    with open_govern(request.app.state.settings.node) as con:
        register = build_register(con, datetime.now(UTC).date())
    return render_granted(request, granted, "transparency.html", {"register": register})
