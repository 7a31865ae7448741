"""The web app's policy: ``joinedup.govern.decide`` for every request, audited there.

``GovernPolicy`` is the only policy the app uses outside tests. ``decide`` gets the signed-in
actor's id (and looks the actor up itself); an anonymous visitor is put as the public (a citizen
of the public organisation) for ``read_public`` and as an unregistered actor for anything else,
which ``decide`` refuses.
``may`` answers "could this role ever do this?" for the home page's menu from the same policy
tables ``decide`` applies (``ADMIN_RULES`` and the role x purpose x level matrix), without
recording anything.

Invariants: every ``decide`` call here writes one audit event (allow or deny); ``may`` is never
used to admit a request, only to choose which links to show.
"""

from __future__ import annotations

from joinedup.config import NodeSettings
from joinedup.govern import Action, Actor, BreakGlass, Refusal, Resource, decide
from joinedup.govern.actors import get_actor_or_none
from joinedup.govern.database import open_govern
from joinedup.govern.model import DATA_ACTIONS, LOCAL_OPERATOR_ID
from joinedup.govern.policy import ADMIN_RULES, Verdict, verdict_for
from joinedup.model import Purpose
from joinedup.web.governance import ANONYMOUS_ID, PUBLIC_VISITOR, PageDecision, Requirement, Viewer


class GovernPolicy:
    """Every request decided by ``joinedup.govern.decide`` against one node."""

    def __init__(self, node: NodeSettings) -> None:
        self._node = node

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
        actor: Actor | str
        if actor_id is not None:
            # ``decide`` looks the actor up itself (one connection per request, not two); the
            # built-in console operator never signs in on the web.
            actor = "unregistered:local-operator" if actor_id == LOCAL_OPERATOR_ID else actor_id
        elif action is Action.READ_PUBLIC:
            actor = PUBLIC_VISITOR
        else:
            actor = ANONYMOUS_ID
        decision = decide(
            node=self._node,
            actor=actor,
            action=action,
            resource=resource,
            purpose=purpose,
            break_glass=break_glass,
            refusal=refusal,
        )
        registered = actor_id is not None and decision.rule != "actor:unregistered"
        reason = decision.reason
        if actor_id is None and not decision.allowed and refusal is None:
            reason = "sign in first: this page is for registered users"
        return PageDecision(
            allowed=decision.allowed,
            reason=reason,
            rule=decision.rule,
            audit_seq=decision.event.seq,
            actor=decision.actor if registered else None,
            is_break_glass=decision.break_glass,
        )

    def may(self, *, viewer: Viewer, requirement: Requirement) -> bool:
        action = requirement.action
        if viewer.actor is None:
            return action is Action.READ_PUBLIC
        role = viewer.actor.role
        if action not in DATA_ACTIONS:
            return role in ADMIN_RULES[action].roles
        if requirement.purpose is None or requirement.level is None:
            return False
        return verdict_for(role, requirement.purpose, requirement.level) is not Verdict.DENY

    def actor(self, actor_id: str) -> Actor | None:
        if actor_id == LOCAL_OPERATOR_ID:
            return None  # the console's built-in operator never signs in on the web
        with open_govern(self._node) as con:
            return get_actor_or_none(con, actor_id)
