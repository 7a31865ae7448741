"""Sign in and sign out.

Invariants: a failed or throttled sign-in is recorded by ``decide`` as a denial (rules
``web:signin`` and ``web:signin-throttled``; the typed username and password are never
recorded); a failed sign-in never says whether the username exists; a username or client
address over the throttle's limit is refused before its password is checked; a successful
sign-in of an account with a second factor needs its current one-time code (``joinedup.web.mfa``),
and with ``require_mfa`` an account without one is refused; a successful
sign-in starts a new server-side session (no session fixation; the anonymous one is revoked)
and only redirects to a path on this site; signing out revokes the session on the server, so
the old cookie is worthless from then on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from joinedup.govern import Action, Refusal, ResourceKind
from joinedup.web.auth import AccountStore, SessionStore, SigninThrottle
from joinedup.web.governance import Granted, Policy, require
from joinedup.web.pages import PageLink, render_granted
from joinedup.web.settings import WebSettings

router = APIRouter()
LINKS: tuple[PageLink, ...] = ()

# Signing in and out is open to everyone: it reads nothing but the sign-in page.
SignIn = Annotated[Granted, Depends(require(Action.READ_PUBLIC, ResourceKind.NODE, name="signin"))]
SignOut = Annotated[
    Granted, Depends(require(Action.READ_PUBLIC, ResourceKind.NODE, name="signout"))
]


SIGNIN_FAILED = Refusal(rule="web:signin", reason="sign-in failed: wrong username or password")
SIGNIN_CODE = Refusal(rule="web:signin-code", reason="sign-in failed: wrong one-time code")
SIGNIN_NO_SECOND_FACTOR = Refusal(
    rule="web:signin-no-mfa", reason="sign-in refused: the account has no second factor"
)
SIGNIN_THROTTLED = Refusal(
    rule="web:signin-throttled", reason="sign-in refused: too many failed attempts"
)


def _record(request: Request, granted: Granted, refusal: Refusal) -> None:
    policy: Policy = request.app.state.policy
    policy.decide(
        actor_id=None,
        action=Action.READ_PUBLIC,
        resource=granted.resource,
        purpose=None,
        refusal=refusal,
    )


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
        _record(request, granted, SIGNIN_THROTTLED)
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
        _record(request, granted, SIGNIN_FAILED)
        return render_granted(
            request,
            granted,
            "signin.html",
            {"next": target, "error": "That username and password do not match an account."},
            status_code=401,
        )
    settings: WebSettings = request.app.state.settings
    if account.has_second_factor:
        code = str(form.get("code", ""))
        if not accounts.check_second_factor(account.username, code, datetime.now(UTC)):
            throttle.record_failure(*keys)
            _record(request, granted, SIGNIN_CODE)
            return render_granted(
                request,
                granted,
                "signin.html",
                {
                    "next": target,
                    "error": "That username, password and code do not match an account.",
                },
                status_code=401,
            )
    elif settings.require_mfa:
        _record(request, granted, SIGNIN_NO_SECOND_FACTOR)
        return render_granted(
            request,
            granted,
            "signin.html",
            {
                "next": target,
                "error": "This account has no second factor yet, and this site needs one. "
                "Ask the node administrator to set it up (joinedup actor mfa).",
            },
            status_code=403,
        )
    throttle.clear(*keys)
    store: SessionStore = request.app.state.session_store
    await run_in_threadpool(store.revoke, granted.session, "signed in: a new session")
    request.state.session = await run_in_threadpool(store.start, account.username)
    return RedirectResponse(target, status_code=303)


@router.post("/signout")
async def signout(request: Request, granted: SignOut) -> Response:
    store: SessionStore = request.app.state.session_store
    await run_in_threadpool(store.revoke, granted.session, "signed out")
    request.state.session = await run_in_threadpool(store.start)
    return RedirectResponse("/", status_code=303)
