"""The one door: every route depends on ``require(action, resource_kind, purpose)``.

``require`` returns a FastAPI dependency that, for each request:

1. reads the session (set by the session middleware) and the signed-in actor, if any;
2. on a POST, checks the form's ``csrf_token`` against the session: if it is wrong, the refusal
   is put to the policy as a ``Refusal`` (rule ``web:csrf``), which records it as a denial with
   its reason, and the request is refused (``CsrfRejected``);
3. names the resource (``resource_for``): a child's record for a ``person`` route (the path's
   ``person_id``), a project for a route with a ``project_id``, an output for a route with a
   ``release_id``, else the declared name or the route's path;
4. asks the app's policy to ``decide`` (by default ``joinedup.govern.decide``, which writes an
   audit event whatever the answer);
5. refuses with the policy's reason (``AccessDenied``; an anonymous visitor is sent to sign in
   instead), or hands the route a ``Granted`` (viewer, decision, CSRF token for its forms).

An anonymous visitor is the public: it is put to ``decide`` as a citizen of the public
organisation for ``read_public`` only, and as an unregistered actor for anything else (which
``decide`` refuses and records). A route learns who is asking only through ``Granted``;
``tests/functional/test_web_routes.py`` enumerates ``app.routes`` and fails if a route lacks a
dependency made here.

Invariants: one policy call per request, before the route body; a denied request never reaches
the route body; a route's requirement is readable from the route (``requirement_of``), so the
home page and the tests see the declarations the door enforces.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request

from joinedup.errors import AccessDenied
from joinedup.govern import Action, Actor, BreakGlass, Refusal, Resource, ResourceKind
from joinedup.govern.model import PUBLIC_ORG, Role
from joinedup.model import DataLevel, Purpose
from joinedup.web.auth import Session, SessionCodec

REQUIREMENT_ATTRIBUTE = "__joinedup_requirement__"
ANONYMOUS_ID = "anonymous-visitor"
PUBLIC_VISITOR = Actor(
    actor_id=ANONYMOUS_ID, display_name="visitor", role=Role.CITIZEN, org=PUBLIC_ORG
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Viewer:
    """Who is asking: a registered actor, or an anonymous visitor (``actor`` None)."""

    actor: Actor | None

    @property
    def is_anonymous(self) -> bool:
        return self.actor is None

    @property
    def display_name(self) -> str:
        return "visitor" if self.actor is None else self.actor.display_name

    @property
    def role(self) -> Role | None:
        return None if self.actor is None else self.actor.role

    @property
    def role_label(self) -> str:
        """The role as words in a sentence: "teacher", "DAC member", "GP"."""
        if self.actor is None:
            return ""
        role = self.actor.role
        return ROLE_WORDS.get(role, role.value.replace("_", " "))


ROLE_WORDS = {Role.DAC_MEMBER: "DAC member", Role.GP: "GP"}

ANONYMOUS = Viewer(actor=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    """What a route does, to what, for which purpose (and at which level, for data)."""

    action: Action
    resource_kind: ResourceKind
    purpose: Purpose | None = None
    level: DataLevel | None = None
    name: str | None = None
    break_glass: bool = False  # a POST's ``reason`` field is passed as a break-glass request


@dataclass(frozen=True, slots=True, kw_only=True)
class PageDecision:
    """A policy's verdict, always with a reason a person can read."""

    allowed: bool
    reason: str
    rule: str = ""
    audit_seq: int | None = None  # the audit event that recorded this decision
    actor: Actor | None = None  # the registered actor decided for (None: anonymous)
    is_break_glass: bool = False  # allowed by break-glass: an alert was raised


class Policy(Protocol):
    """Decides each request (and records it); answers menu questions without recording."""

    def decide(
        self,
        *,
        actor_id: str | None,
        action: Action,
        resource: Resource,
        purpose: Purpose | None,
        break_glass: BreakGlass | None = None,
        refusal: Refusal | None = None,
    ) -> PageDecision:
        """Decide for the actor with this id (None: an anonymous visitor); with a ``refusal``,
        record the door's own refusal as a denial."""
        ...

    def may(self, *, viewer: Viewer, requirement: Requirement) -> bool:
        """Whether the viewer's role could ever be allowed this (for menus; not recorded)."""
        ...

    def actor(self, actor_id: str) -> Actor | None:
        """The registered actor with this id, if any."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Granted:
    """What a route receives when the policy allowed the request."""

    viewer: Viewer
    requirement: Requirement
    resource: Resource
    decision: PageDecision
    session: Session
    csrf_token: str


class SignInRequired(AccessDenied):
    """An anonymous visitor asked for a page that needs an account."""


class CsrfRejected(AccessDenied):
    """A POST came without this session's CSRF token."""


CSRF_RULE = "web:csrf"
CSRF_REASON = (
    "this form was not sent from this site's page, or your session ended; "
    "reload the page and try again"
)


def session_of(request: Request) -> Session:
    """The request's session, set by the session middleware in ``joinedup.web.app``."""
    session = getattr(request.state, "session", None)
    if not isinstance(session, Session):
        raise RuntimeError("the session middleware did not run")
    return session


def viewer_of(request: Request) -> Viewer:
    """Who is asking, for pages the door did not admit (error pages): looked up again."""
    found = getattr(request.state, "viewer", None)
    if isinstance(found, Viewer):
        return found
    username = session_of(request).username
    if username is None:
        return ANONYMOUS
    policy: Policy = request.app.state.policy
    actor = policy.actor(username)
    return ANONYMOUS if actor is None else Viewer(actor=actor)


def resource_for(requirement: Requirement, request: Request) -> Resource:
    """The resource a request is about, from the requirement and the path."""
    params = request.path_params
    if requirement.resource_kind is ResourceKind.PERSON:
        return Resource(
            kind=ResourceKind.PERSON,
            name=requirement.name or "store__timeline",
            level=requirement.level,
            person_id=str(params.get("person_id", "")) or None,
        )
    name = (
        params.get("project_id")
        or params.get("release_id")
        or params.get("name")
        or requirement.name
    )
    if name is None:
        route = request.scope.get("route")
        name = getattr(route, "path", request.url.path)
    return Resource(kind=requirement.resource_kind, name=str(name), level=requirement.level)


def decide_for(
    request: Request,
    viewer: Viewer,
    *,
    action: Action,
    resource: Resource,
    purpose: Purpose | None,
) -> PageDecision:
    """Ask the app's policy about a second thing within an admitted request."""
    policy: Policy = request.app.state.policy
    actor_id = None if viewer.actor is None else viewer.actor.actor_id
    return policy.decide(actor_id=actor_id, action=action, resource=resource, purpose=purpose)


def require(
    action: Action,
    resource_kind: ResourceKind,
    purpose: Purpose | None = None,
    *,
    level: DataLevel | None = None,
    name: str | None = None,
    break_glass: bool = False,
) -> Callable[[Request], Awaitable[Granted]]:
    """A dependency admitting a request only if the policy allows ``action`` on it."""
    requirement = Requirement(
        action=action,
        resource_kind=resource_kind,
        purpose=purpose,
        level=level,
        name=name,
        break_glass=break_glass,
    )

    async def governed(request: Request) -> Granted:
        session = session_of(request)
        codec: SessionCodec = request.app.state.sessions
        glass = None
        resource = resource_for(requirement, request)
        policy: Policy = request.app.state.policy
        if request.method == "POST":
            form = await request.form()
            token = form.get("csrf_token")
            if not codec.is_valid_csrf(session, token if isinstance(token, str) else None):
                refused = policy.decide(
                    actor_id=session.username,
                    action=action,
                    resource=resource,
                    purpose=purpose,
                    refusal=Refusal(rule=CSRF_RULE, reason=CSRF_REASON),
                )
                request.state.viewer = Viewer(actor=refused.actor)
                raise CsrfRejected(CSRF_REASON)
            if break_glass:
                glass = BreakGlass(reason=str(form.get("reason", "")))
        decision = policy.decide(
            actor_id=session.username,
            action=action,
            resource=resource,
            purpose=purpose,
            break_glass=glass,
        )
        viewer = Viewer(actor=decision.actor)
        request.state.viewer = viewer
        request.state.refused_resource = None if decision.allowed else resource
        if not decision.allowed:
            if session.username is None:
                raise SignInRequired(decision.reason)
            raise AccessDenied(decision.reason)
        return Granted(
            viewer=viewer,
            requirement=requirement,
            resource=resource,
            decision=decision,
            session=session,
            csrf_token=codec.csrf_token(session),
        )

    setattr(governed, REQUIREMENT_ATTRIBUTE, requirement)
    governed.__name__ = f"require_{action.value}_{resource_kind.value}"
    return governed


def requirement_of(dependency: object) -> Requirement | None:
    """The requirement a dependency made by ``require`` enforces, else None."""
    found = getattr(dependency, REQUIREMENT_ATTRIBUTE, None)
    return found if isinstance(found, Requirement) else None
