"""Sign in and sign out.

Invariants: a failed sign-in never says whether the username exists; a username or client
address over the throttle's limit is refused before its password is checked; a successful
sign-in starts a new session id (no session fixation) and only redirects to a path on this site.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from joinedup.govern import Action, ResourceKind
from joinedup.web.auth import AccountStore, Session, SigninThrottle
from joinedup.web.governance import Granted, require
from joinedup.web.pages import PageLink, render_granted

router = APIRouter()
LINKS: tuple[PageLink, ...] = ()

# Signing in and out is open to everyone: it reads nothing but the sign-in page.
SignIn = Annotated[Granted, Depends(require(Action.READ_PUBLIC, ResourceKind.NODE, name="signin"))]
SignOut = Annotated[
    Granted, Depends(require(Action.READ_PUBLIC, ResourceKind.NODE, name="signout"))
]


def _safe_next(target: object) -> str:
    """A local path to go to after signing in; anything else goes home."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return "/"
    return "/" if any(c in target for c in "\\\r\n") else target


@router.get("/signin")
async def signin_page(request: Request, granted: SignIn, next: str = "/") -> Response:
    return render_granted(request, granted, "signin.html", {"next": _safe_next(next)})


@router.post("/signin")
async def signin(request: Request, granted: SignIn) -> Response:
    form = await request.form()
    username = str(form.get("username", "")).strip().lower()
    password = str(form.get("password", ""))
    target = _safe_next(form.get("next"))
    throttle: SigninThrottle = request.app.state.throttle
    client = request.client.host if request.client else "unknown"
    keys = (f"user:{username}", f"client:{client}")
    if throttle.is_blocked(*keys):
        return render_granted(
            request,
            granted,
            "signin.html",
            {
                "next": target,
                "error": "Too many failed attempts. Wait a few minutes, then try again.",
            },
            status_code=429,
        )
    accounts: AccountStore = request.app.state.accounts
    account = accounts.authenticate(username, password) if username and password else None
    if account is None:
        throttle.record_failure(*keys)
        return render_granted(
            request,
            granted,
            "signin.html",
            {"next": target, "error": "That username and password do not match an account."},
            status_code=401,
        )
    throttle.clear(*keys)
    request.state.session = Session.new(account.username)
    return RedirectResponse(target, status_code=303)


@router.post("/signout")
async def signout(request: Request, granted: SignOut) -> Response:
    request.state.session = Session.new()
    return RedirectResponse("/", status_code=303)
