"""Rendering: the Jinja2 environment, the page menu, and the one function that renders a page.

Templates autoescape everything; a template receives the ``Granted`` of its request, so the
header shows who is signed in and every form carries the session's CSRF token.

Invariants: ``render`` is the only way a route returns HTML; a menu entry names the same
requirement as its route, so the home page offers exactly the pages the policy would admit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from joinedup.errors import UsageError
from joinedup.web.governance import Granted, Requirement, Viewer

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


@dataclass(frozen=True, slots=True, kw_only=True)
class PageLink:
    """A page offered on the home page to those whom its requirement admits."""

    path: str
    title: str
    summary: str
    requirement: Requirement


def render(
    request: Request,
    template: str,
    *,
    viewer: Viewer,
    csrf_token: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` for ``viewer`` (``context`` adds page values)."""
    values: dict[str, Any] = {"viewer": viewer, "csrf_token": csrf_token}
    values.update(context or {})
    return templates.TemplateResponse(request, template, values, status_code=status_code)


def render_granted(
    request: Request,
    granted: Granted,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page for the request the door admitted."""
    return render(
        request,
        template,
        viewer=granted.viewer,
        csrf_token=granted.csrf_token,
        context=context,
        status_code=status_code,
    )


def page_number(page: str) -> int:
    """A list page's ``page`` query parameter as a number from 1; anything else is a usage error
    shown with what to do (a 400 page, never FastAPI's 422). A page past the list's end is the
    route's to tell, as it alone knows how many pages there are."""
    try:
        number = int(page)
    except ValueError:
        raise UsageError(f"page must be a whole number from 1; it was {page[:20]!r}") from None
    return max(1, number)
