"""The web app factory: ``create_app(settings, ...)`` builds one FastAPI app for one node.

Server-rendered pages, one router per surface (``joinedup.web.routers``), every route behind
``joinedup.web.governance.require``. The factory wires, in order: the session middleware (every
visitor holds a server-side session, its random id in a cookie), the security headers
(outermost, so they are on every response), the error pages (``AccessDenied`` → 403 with the
reason; an anonymous visitor is sent to sign in instead), and the routers.

Invariants: there are no mounts and no unguarded routes (static files are served by a governed
route too); the policy, account store, session store, session codec and sign-in throttle are on
``app.state``,
so tests swap them by passing their own to the factory, not by patching.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from functools import partial
from urllib.parse import quote

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from joinedup.errors import AccessDenied, NodeBusy, UserError
from joinedup.govern import Action, Refusal, Resource, ResourceKind
from joinedup.govern.model import FRONTLINE_ROLES, MIN_BREAK_GLASS_REASON
from joinedup.web.auth import AccountStore, SessionCodec, SessionStore, SigninThrottle
from joinedup.web.governance import ANONYMOUS, Policy, SignInRequired, session_of, viewer_of
from joinedup.web.pages import PageLink, render
from joinedup.web.routers import ROUTER_MODULES
from joinedup.web.security import security_headers_middleware
from joinedup.web.settings import WebSettings


def default_policy(settings: WebSettings) -> Policy:
    """The policy the app uses when none is passed: ``joinedup.govern.decide``."""
    from joinedup.web.policy import GovernPolicy

    return GovernPolicy(settings.node)


def create_app(
    settings: WebSettings,
    *,
    policy: Policy | None = None,
    accounts: AccountStore | None = None,
    throttle: SigninThrottle | None = None,
    sessions: SessionStore | None = None,
) -> FastAPI:
    """The web app of one node."""
    app = FastAPI(
        title=f"joinedup: {settings.node.name}",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.sessions = SessionCodec(settings)
    app.state.session_store = sessions or SessionStore(
        settings.database_path,
        lifetime_seconds=settings.session_seconds,
        idle_seconds=settings.idle_seconds,
    )
    app.state.accounts = accounts or AccountStore(settings.database_path)
    app.state.policy = policy or default_policy(settings)
    app.state.throttle = throttle or SigninThrottle(
        attempts=settings.signin_attempts, window_seconds=settings.signin_window_seconds
    )
    menu: list[PageLink] = []
    for module in ROUTER_MODULES:
        app.include_router(module.router)
        menu.extend(module.LINKS)
    app.state.menu = tuple(menu)

    app.middleware("http")(_session_middleware)
    app.middleware("http")(security_headers_middleware(https=settings.secure_cookies))
    app.add_exception_handler(AccessDenied, _access_denied)
    app.add_exception_handler(NodeBusy, _node_busy)
    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app


NETWORK_RULE = "web:network"
NETWORK_REASON = "this site is not open to the network you are on"


def _client_allowed(request: Request) -> bool:
    settings: WebSettings = request.app.state.settings
    if not settings.allowed_networks:
        return True
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in settings.allowed_networks)


async def _refuse_network(request: Request) -> Response:
    """A request from outside ``allowed_networks``: recorded by ``decide``, then refused."""
    policy: Policy = request.app.state.policy
    resource = Resource(kind=ResourceKind.NODE, name=request.url.path)
    await run_in_threadpool(
        partial(
            policy.decide,
            actor_id=None,
            action=Action.READ_PUBLIC,
            resource=resource,
            purpose=None,
            refusal=Refusal(rule=NETWORK_RULE, reason=NETWORK_REASON),
        )
    )
    return render(
        request,
        "error.html",
        viewer=ANONYMOUS,
        csrf_token="",
        context={"title": "Not allowed", "reason": NETWORK_REASON, "status": 403},
        status_code=403,
    )


async def _session_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    if not _client_allowed(request):
        return await _refuse_network(request)
    codec: SessionCodec = request.app.state.sessions
    store: SessionStore = request.app.state.session_store
    cookie = request.cookies.get(SessionCodec.COOKIE)
    # blocking DuckDB calls, run off the event loop
    session = await run_in_threadpool(store.resume, cookie)
    if session is None:
        session = await run_in_threadpool(store.start)
    request.state.session = session
    response = await call_next(request)
    # A sign-in or sign-out replaces request.state.session (a new id: no fixation); the cookie
    # names whichever session is current. Its end is the server's business (expiry, idle
    # timeout, revocation), not the cookie's.
    response.set_cookie(
        SessionCodec.COOKIE,
        session_of(request).session_id,
        max_age=codec.max_age,
        httponly=True,
        samesite="strict",
        secure=codec.secure,
        path="/",
    )
    return response


def _error_page(request: Request, *, status: int, title: str, reason: str) -> Response:
    codec: SessionCodec = request.app.state.sessions
    viewer = viewer_of(request)
    refused = getattr(request.state, "refused_resource", None)
    # Refused a child's record for want of a relationship: offer break-glass to frontline roles.
    glass_for = None
    if (
        isinstance(refused, Resource)
        and refused.kind is ResourceKind.PERSON
        and refused.person_id
        and viewer.role in FRONTLINE_ROLES
        and "legitimate relationship" in reason
    ):
        glass_for = refused.person_id
    return render(
        request,
        "error.html",
        viewer=viewer,
        csrf_token=codec.csrf_token(session_of(request)),
        context={
            "title": title,
            "reason": reason,
            "status": status,
            "break_glass_for": glass_for,
            "min_reason": MIN_BREAK_GLASS_REASON,
        },
        status_code=status,
    )


async def _access_denied(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequired):
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/signin?next={target}", status_code=303)
    return _error_page(request, status=403, title="Not allowed", reason=str(exc))


async def _node_busy(request: Request, exc: Exception) -> Response:
    """A database locked by a refresh: a page that says so, 503 with when to try again."""
    response = _error_page(request, status=503, title="The node is refreshing", reason=str(exc))
    response.headers["Retry-After"] = str(NodeBusy.retry_after)
    return response


async def _user_error(request: Request, exc: Exception) -> Response:
    return _error_page(request, status=400, title="That did not work", reason=str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    titles = {404: "Page not found", 405: "Not allowed here"}
    reason = {
        404: "There is no page at this address.",
        405: "This page cannot be used that way.",
    }.get(status, "Something went wrong.")
    return _error_page(request, status=status, title=titles.get(status, "Error"), reason=reason)
