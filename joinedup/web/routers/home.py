"""The home page: what this visitor may do here, and nothing else.

Invariants: a link is shown only if the policy's ``may`` admits its requirement for this actor,
the same requirement its route enforces; so a role never sees a link to a page it would be
refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from joinedup.govern import Action, ResourceKind
from joinedup.web.governance import Granted, Policy, require
from joinedup.web.pages import PageLink, render_granted

router = APIRouter()
LINKS: tuple[PageLink, ...] = ()


def links_for(request: Request, granted: Granted) -> list[PageLink]:
    """The menu entries the policy would admit for this actor."""
    policy: Policy = request.app.state.policy
    menu: tuple[PageLink, ...] = request.app.state.menu
    return [
        link for link in menu if policy.may(viewer=granted.viewer, requirement=link.requirement)
    ]


@router.get("/")
async def home(
    request: Request,
    granted: Annotated[
        Granted, Depends(require(Action.READ_PUBLIC, ResourceKind.NODE, name="home"))
    ],
) -> Response:
    return render_granted(
        request,
        granted,
        "home.html",
        {"links": links_for(request, granted), "node_name": request.app.state.settings.node.name},
    )
