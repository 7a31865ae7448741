"""``decide``: the one function that allows or denies everything, and audits every answer.

::

    decide(node=NODE, actor=ACTOR, action=ACTION, resource=RESOURCE, purpose=PURPOSE,
           project_id=None, break_glass=None, today=None) -> Decision

- ``node``: the node's settings or folder (the call opens and closes ``govern.duckdb`` and the
  store: one call per operation, as the CLI makes it), or an open ``GovernSession``
  (``database.open_session``) for many decisions in a row without reopening the files;
- ``actor``: an ``Actor`` or an actor id (looked up in ``govern.duckdb``; ``local-operator`` is
  the built-in node administrator);
- ``action``: an ``Action``. Data actions (``read``, ``run_job``, ``contact``) go through the role
  x purpose x level matrix (``policy.MATRIX``); every other action through
  ``policy.ADMIN_RULES`` (purpose ``None``);
- ``resource``: a ``Resource`` (kind, name, level, optional person pseudonym and columns);
- ``purpose``: a ``joinedup.model.Purpose``, or ``None`` for administration;
- ``project_id``: the project a ``P``/``J``/``C`` cell needs;
- ``break_glass``: a ``BreakGlass`` with a typed reason, for direct care without a relationship;
- ``refusal``: a ``Refusal`` when a check at the door (the web app's CSRF check) has already
  refused the request: the answer is then a denial with its rule and reason, recorded like any.

Every call appends one event to the audit chain (allow or deny) and, for break-glass, raises an
alert to the node's safeguarding lead. ``Decision.raise_if_denied()`` turns a denial into
``AccessDenied`` (exit 3, HTTP 403) carrying the reason.

Invariants:
- a suspended actor (``actors.suspend_actor``) is refused everything, public pages included,
  until reinstated (rule ``actor:suspended``; the suspension's reason stays in its register);
- there is no other path to a verdict: the CLI and the web app call ``decide`` before acting;
- a denial is as audited as an allowance; the reason never holds a row value;
- an unsigned, partly signed, expired or mismatched project is refused for every purpose.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from joinedup.config import NodeSettings
from joinedup.errors import AccessDenied
from joinedup.govern.actors import get_actor_or_none, suspension_of
from joinedup.govern.audit import AuditEvent, append_event
from joinedup.govern.consent import ContactPermission, consent_records_for_person, judge_consent
from joinedup.govern.database import GovernSession, open_session
from joinedup.govern.model import (
    DATA_ACTIONS,
    MIN_BREAK_GLASS_REASON,
    PUBLIC_ORG,
    Action,
    Actor,
    BreakGlass,
    Refusal,
    Resource,
    ResourceKind,
    Role,
)
from joinedup.govern.policy import ADMIN_RULES, Verdict, verdict_for
from joinedup.govern.projects import Setting, project_status, safe_people_problems
from joinedup.govern.relationships import find_relationship
from joinedup.model import DataLevel, Purpose
from joinedup.store.secondary import SECONDARY_PREFIX

SAFEGUARDING_LEAD_ROLE = Role.DSL


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    allowed: bool
    reason: str  # why, in words a person can act on
    rule: str  # the policy cell or rule applied, e.g. "matrix:researcher/research/L3=P"
    actor: Actor
    action: Action
    resource: Resource
    purpose: Purpose | None
    project_id: str | None
    break_glass: bool  # allowed by break-glass (an alert was raised)
    alert_id: str | None
    event: AuditEvent  # the audit event written for this decision

    def raise_if_denied(self) -> Decision:
        if not self.allowed:
            raise AccessDenied(f"denied: {self.reason}")
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class _Verdict:
    allowed: bool
    reason: str
    rule: str
    break_glass: bool = False


def decide(
    *,
    node: NodeSettings | Path | str | GovernSession,
    actor: Actor | str,
    action: Action,
    resource: Resource,
    purpose: Purpose | None,
    project_id: str | None = None,
    break_glass: BreakGlass | None = None,
    today: date | None = None,
    refusal: Refusal | None = None,
) -> Decision:
    """Allow or deny ``actor`` doing ``action`` on ``resource`` for ``purpose``; audit it."""
    request = _Request(
        actor=actor,
        action=action,
        resource=resource,
        purpose=purpose,
        project_id=project_id,
        break_glass=break_glass,
        today=today or datetime.now(UTC).date(),
        refusal=refusal,
    )
    if isinstance(node, GovernSession):
        return _decide(node, request)
    with open_session(node) as session:
        return _decide(session, request)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Request:
    actor: Actor | str
    action: Action
    resource: Resource
    purpose: Purpose | None
    project_id: str | None
    break_glass: BreakGlass | None
    today: date
    refusal: Refusal | None = None


def _decide(session: GovernSession, request: _Request) -> Decision:
    gov, settings = session.govern, session.settings
    actor, action, resource = request.actor, request.action, request.resource
    purpose, project_id, break_glass = request.purpose, request.project_id, request.break_glass
    registered = True
    if isinstance(actor, str):
        found = get_actor_or_none(gov, actor)
        if found is None:
            registered = False
            found = Actor(
                actor_id=actor, display_name="unregistered", role=Role.CITIZEN, org=PUBLIC_ORG
            )
        actor = found
    suspended = suspension_of(gov, actor.actor_id) if registered else None
    if request.refusal is not None:
        verdict = _Verdict(allowed=False, reason=request.refusal.reason, rule=request.refusal.rule)
    elif suspended is not None:
        verdict = _Verdict(
            allowed=False,
            reason=f"actor {actor.actor_id} is suspended; ask the node administrator",
            rule="actor:suspended",
        )
    elif not registered:
        verdict = _Verdict(
            allowed=False,
            reason=f"actor {actor.actor_id} is not registered on this node",
            rule="actor:unregistered",
        )
    else:
        verdict = _evaluate(
            gov,
            session.store,
            actor=actor,
            action=action,
            resource=resource,
            purpose=purpose,
            project_id=project_id,
            break_glass=break_glass,
            today=request.today,
        )
    event_id = uuid.uuid4().hex
    alert_id = None
    if verdict.break_glass and break_glass is not None:
        alert_id = "A" + uuid.uuid4().hex[:10]
        gov.execute(
            "INSERT INTO govern__alerts (alert_id, event_id, actor_id, person_id, reason, "
            "raised_at, recipient_role, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'open')",
            [
                alert_id,
                event_id,
                actor.actor_id,
                resource.person_id,
                break_glass.reason,
                datetime.now(UTC).replace(tzinfo=None),
                SAFEGUARDING_LEAD_ROLE.value,
            ],
        )
    event = append_event(
        gov,
        settings,
        actor=actor,
        action=action,
        resource=resource,
        purpose=purpose,
        allowed=verdict.allowed,
        reason=verdict.reason,
        rule=verdict.rule,
        project_id=project_id,
        break_glass=verdict.break_glass,
        alert_id=alert_id,
        event_id=event_id,
        registered=registered,
    )
    return Decision(
        allowed=verdict.allowed,
        reason=verdict.reason,
        rule=verdict.rule,
        actor=actor,
        action=action,
        resource=resource,
        purpose=purpose,
        project_id=project_id,
        break_glass=verdict.break_glass,
        alert_id=alert_id,
        event=event,
    )


def _evaluate(
    gov: duckdb.DuckDBPyConnection,
    store: duckdb.DuckDBPyConnection | None,
    *,
    actor: Actor,
    action: Action,
    resource: Resource,
    purpose: Purpose | None,
    project_id: str | None,
    break_glass: BreakGlass | None,
    today: date,
) -> _Verdict:
    if action not in DATA_ACTIONS:
        rule = ADMIN_RULES[action]
        rule_id = f"admin:{action.value}"
        if actor.role in rule.roles:
            if action is Action.READ_JOB and actor.role in (Role.RESEARCHER, Role.NODE_ANALYST):
                return _job_reader_verdict(gov, actor, project_id, rule_id)
            return _Verdict(allowed=True, reason=rule.why, rule=rule_id)
        roles = ", ".join(sorted(r.value for r in rule.roles))
        return _Verdict(
            allowed=False,
            reason=f"a {actor.role.value} may not {action.value}: only {roles}",
            rule=rule_id,
        )
    if purpose is None or resource.level is None:
        return _Verdict(
            allowed=False,
            reason=f"{action.value} needs a purpose and a data level",
            rule="matrix:incomplete",
        )
    cell = verdict_for(actor.role, purpose, resource.level)
    rule_id = f"matrix:{actor.role.value}/{purpose.value}/{resource.level.value}={cell.value}"

    def deny(reason: str) -> _Verdict:
        return _Verdict(allowed=False, reason=reason, rule=rule_id)

    def allow(reason: str, *, glass: bool = False) -> _Verdict:
        return _Verdict(allowed=True, reason=reason, rule=rule_id, break_glass=glass)

    if cell is Verdict.DENY:
        return deny(
            f"a {actor.role.value} may not use {resource.level.value} data for {purpose.value}"
        )
    if action is Action.DOWNLOAD_SYNTHETIC and (
        resource.level is not DataLevel.L3_SYNTHETIC or resource.kind is not ResourceKind.SYNTHETIC
    ):
        return deny("download_synthetic takes a synthetic twin (L3) only")
    if action is Action.CONTACT and cell is not Verdict.CONTACT:
        return deny("a family's identity is released for contact only to a research project")
    if (
        purpose.opt_out_applies
        and resource.level is DataLevel.L1_PSEUDONYMISED
        and resource.kind is ResourceKind.TABLE
        and not resource.name.startswith(SECONDARY_PREFIX)
    ):
        return deny(
            f"{purpose.value} reads {SECONDARY_PREFIX}* views (opt-outs applied), "
            f"not {resource.name}"
        )
    if cell is Verdict.ALLOW:
        return allow(
            f"a {actor.role.value} may use {resource.level.value} data for {purpose.value}"
        )
    if cell is Verdict.RELATIONSHIP:
        if action is not Action.READ or resource.person_id is None:
            return deny("direct care reads one child's record: name the person")
        found = find_relationship(store, actor, resource.person_id)
        if found is not None:
            return allow(f"legitimate relationship: {found.kind} ({found.table})")
        if break_glass is not None:
            if len(break_glass.reason.strip()) < MIN_BREAK_GLASS_REASON:
                return deny(
                    f"break-glass needs a reason of at least {MIN_BREAK_GLASS_REASON} characters"
                )
            return allow(
                "break-glass: no legitimate relationship; alert raised to the safeguarding lead",
                glass=True,
            )
        return deny(
            f"no legitimate relationship between {actor.org.org_id} and this child; "
            "in an emergency use break-glass with a reason"
        )
    # P, J and C cells need an active project of this purpose naming the actor
    problem = _project_problem(gov, actor, resource, purpose, project_id, cell, action, today)
    if problem is not None:
        return deny(problem)
    if cell is Verdict.CONTACT:
        if resource.person_id is None:
            return deny("contact is about one child: name the person")
        answer = judge_consent(consent_records_for_person(gov, store, resource.person_id), today)
        if answer.permission is ContactPermission.NONE:
            return deny(f"identity not released: {answer.why}")
        return allow(f"identity released for contact ({answer.permission.value}): {answer.why}")
    if action is Action.RUN_JOB and resource.kind is ResourceKind.PROJECT:
        return allow(f"under active project {project_id}{_cohort_note(gov, project_id, today)}")
    return allow(f"under active project {project_id}")


def _cohort_note(gov: duckdb.DuckDBPyConnection, project_id: str | None, today: date) -> str:
    """The pinned cohort a job will see, for the audit reason."""
    if project_id is None:
        return ""
    cohort = project_status(gov, project_id, today).project.spec.cohort_spec
    return "" if cohort is None else f", cohort sha256 {cohort.sha256}"


def _job_reader_verdict(
    gov: duckdb.DuckDBPyConnection, actor: Actor, project_id: str | None, rule_id: str
) -> _Verdict:
    """Researchers and analysts see the jobs of projects that name them, and no others."""
    members: list[str] = []
    if project_id is not None:
        row = gov.execute(
            "SELECT members FROM govern__projects WHERE project_id = ?", [project_id]
        ).fetchone()
        members = json.loads(str(row[0])) if row else []
    if actor.actor_id in members:
        return _Verdict(
            allowed=True, reason=f"a member of project {project_id} sees its jobs", rule=rule_id
        )
    return _Verdict(
        allowed=False,
        reason=f"actor {actor.actor_id} is not a member of this job's project",
        rule=rule_id,
    )


def _project_problem(
    gov: duckdb.DuckDBPyConnection,
    actor: Actor,
    resource: Resource,
    purpose: Purpose,
    project_id: str | None,
    cell: Verdict,
    action: Action,
    today: date,
) -> str | None:
    if cell is Verdict.JOB and action is not Action.RUN_JOB:
        return "record-level data reach this role only through jobs (the double lock)"
    if cell is Verdict.PROJECT and action is Action.CONTACT:
        return "contact needs consent under a research project"
    if project_id is None:
        return f"{purpose.value} at {resource.level} needs an approved project (--project)"
    found = gov.execute(
        "SELECT count(*) FROM govern__projects WHERE project_id = ?", [project_id]
    ).fetchone()
    if not found or not found[0]:
        return f"no project {project_id}"
    status = project_status(gov, project_id, today)
    if not status.is_active:
        return f"project {project_id} is not active: {status.state.value} ({status.why})"
    spec = status.project.spec
    if spec.purpose is not purpose:
        return f"project {project_id} is for {spec.purpose.value}, not {purpose.value}"
    if actor.actor_id not in spec.members:
        return f"actor {actor.actor_id} is not a member of project {project_id}"
    problems = safe_people_problems(actor, purpose, today)
    if problems:
        return "; ".join(problems)
    if resource.level is DataLevel.L1_PSEUDONYMISED:
        if cell is Verdict.JOB and spec.setting is not Setting.JOBS:
            return f"project {project_id} does not run jobs (its setting is {spec.setting.value})"
        if spec.setting is Setting.SYNTHETIC:
            return f"project {project_id} may use the synthetic twin only"
    if action is Action.RUN_JOB and spec.cohort_spec is None:
        return (
            f"project {project_id} was approved before cohorts were pinned, so the node cannot "
            "tell which children it may see; re-apply with a cohort spec "
            "(joinedup project apply --cohort-spec FILE) for the DAC to approve"
        )
    if resource.kind is ResourceKind.TABLE:
        if resource.name not in spec.datasets:
            return f"{resource.name} is not among project {project_id}'s datasets"
        allowed = {
            v.partition(".")[2] for v in spec.variables if v.partition(".")[0] == resource.name
        }
        if not resource.columns:
            return "name the columns wanted: a project reads its minimum variables only"
        outside = sorted(set(resource.columns) - allowed)
        if outside:
            return f"columns outside project {project_id}'s variables: {', '.join(outside)}"
    return None
