"""Who acts, for which organisation, on what: the value types of governance.

Organisations (``OrgKind``), roles (``Role``), actors (``Actor``), actions (``Action``), the
resources they act on (``Resource``) and the break-glass request (``BreakGlass``). Purposes and
data levels are the shared ``joinedup.model.Purpose`` and ``joinedup.model.DataLevel``.

Invariants:
- every value here is frozen; nothing holds a row value: a resource names a table, a level and
  at most one person pseudonym (never an identifier);
- ``LOCAL_OPERATOR`` is the node administrator the local CLI acts as unless told otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from joinedup.model import DataLevel


class OrgKind(StrEnum):
    """The kinds of organisation around a child. ``code`` on an organisation is its URN (a
    school), its ODS code (GP practice, NHS trust), or a local id (LA team, police, VCSE)."""

    SCHOOL = "school"
    ACADEMY_TRUST = "academy_trust"
    GP_PRACTICE = "gp_practice"
    NHS_TRUST = "nhs_trust"
    LA_TEAM = "la_team"
    POLICE = "police"
    VCSE = "vcse"
    NODE = "node"  # the organisation that hosts the node (its controller)
    PUBLIC = "public"  # citizens and parents belong to no organisation


class Role(StrEnum):
    TEACHER = "teacher"
    SENDCO = "sendco"
    DSL = "designated_safeguarding_lead"
    HEALTH_VISITOR = "health_visitor"
    GP = "gp"
    PAEDIATRICIAN = "paediatrician"
    SOCIAL_WORKER = "social_worker"
    SOCIAL_PRESCRIBER = "social_prescriber"
    NODE_ANALYST = "node_analyst"
    RESEARCHER = "researcher"
    DAC_MEMBER = "dac_member"
    OUTPUT_CHECKER = "output_checker"
    NODE_ADMIN = "node_administrator"
    COMMISSIONER = "commissioner"
    CITIZEN = "citizen"


FRONTLINE_ROLES: frozenset[Role] = frozenset(
    {
        Role.TEACHER,
        Role.SENDCO,
        Role.DSL,
        Role.HEALTH_VISITOR,
        Role.GP,
        Role.PAEDIATRICIAN,
        Role.SOCIAL_WORKER,
        Role.SOCIAL_PRESCRIBER,
    }
)


class Action(StrEnum):
    """What an actor asks to do. Data actions go through the role x purpose x level matrix;
    the others through the administrative table in ``policy.py``."""

    # data actions
    READ = "read"  # read records or tables at a level
    RUN_JOB = "run_job"  # run approved code against L1 inside the node (double lock)
    CONTACT = "contact"  # release a child's identity so a project may contact the family
    # administrative actions
    ADMINISTER_NODE = "administer_node"  # init, status, ingest, refresh, quarantine
    MANAGE_ACTORS = "manage_actors"
    APPLY_PROJECT = "apply_project"
    REVIEW_PROJECT = "review_project"
    COUNTERSIGN_PROJECT = "countersign_project"
    LIST_PROJECTS = "list_projects"
    RECORD_OPTOUT = "record_optout"
    LIST_OPTOUTS = "list_optouts"
    RECORD_CONSENT = "record_consent"
    SHOW_CONSENT = "show_consent"
    READ_AUDIT = "read_audit"
    REVIEW_ALERT = "review_alert"
    REVIEW_OUTPUT = "review_output"  # an output checker's vote on a queued output
    READ_PUBLIC = "read_public"  # the transparency register, published statistics
    READ_JOB = "read_job"  # a job's status and checked outputs (members of its project, checkers)


DATA_ACTIONS: frozenset[Action] = frozenset({Action.READ, Action.RUN_JOB, Action.CONTACT})


class ResourceKind(StrEnum):
    NODE = "node"
    SOURCE = "source"
    TABLE = "table"  # a store table or view
    PERSON = "person"  # one child's records (direct care)
    OUTPUT = "output"  # an aggregate output
    SYNTHETIC = "synthetic"
    PROJECT = "project"
    REGISTER = "register"  # dissent, consent, actor, project or transparency register
    AUDIT = "audit"


@dataclass(frozen=True, slots=True, kw_only=True)
class Organisation:
    org_id: str
    kind: OrgKind
    name: str
    code: str | None = None  # URN, ODS code or local id (see OrgKind)
    urns: tuple[int, ...] = ()  # an academy trust's schools


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """A person who acts, with one role in one organisation (individual accounts only)."""

    actor_id: str
    display_name: str
    role: Role
    org: Organisation
    accredited_until: date | None = None  # research accreditation (e.g. ONS Accredited)
    ig_training_on: date | None = None  # date of the last information-governance training
    is_lay: bool = False  # a lay (public) member of the DAC


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """What an action is on. ``name`` is a table, view, source, project id or register name;
    ``person_id`` (a store pseudonym) is set for one child's record; ``columns`` lists the
    variables asked for (checked against a project's minimum variables)."""

    kind: ResourceKind
    name: str
    level: DataLevel | None = None
    person_id: str | None = None
    columns: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakGlass:
    """An emergency direct-care access outside the actor's legitimate relationships."""

    reason: str  # typed by the actor; at least ``MIN_BREAK_GLASS_REASON`` characters


MIN_BREAK_GLASS_REASON = 20

LOCAL_OPERATOR_ID = "local-operator"
NODE_ORG = Organisation(org_id="node", kind=OrgKind.NODE, name="this node")
PUBLIC_ORG = Organisation(org_id="public", kind=OrgKind.PUBLIC, name="the public")
LOCAL_OPERATOR = Actor(
    actor_id=LOCAL_OPERATOR_ID,
    display_name="local operator (node administrator at the node's own console)",
    role=Role.NODE_ADMIN,
    org=NODE_ORG,
)
