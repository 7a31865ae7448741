"""Governance: who may do what, for which purpose, at which data level; and the record of it.

Public surface: ``decide`` and ``Decision`` (the one gate, audited), ``open_session`` and
``GovernSession`` (many decisions on connections held open), the value types
(``Actor``, ``Organisation``, ``Role``, ``OrgKind``, ``Action``, ``Resource``, ``ResourceKind``,
``BreakGlass``, ``Refusal``, ``LOCAL_OPERATOR``), and the registers in their modules: ``actors``,
``projects``, ``optout``, ``consent``, ``audit``, ``alerts``, ``transparency``.
State lives in the node's ``govern.duckdb`` (see ``database.py``).
"""

from joinedup.govern.database import GovernSession, open_session
from joinedup.govern.decide import Decision, decide
from joinedup.govern.model import (
    LOCAL_OPERATOR,
    LOCAL_OPERATOR_ID,
    Action,
    Actor,
    BreakGlass,
    Organisation,
    OrgKind,
    Refusal,
    Resource,
    ResourceKind,
    Role,
)

__all__ = [
    "LOCAL_OPERATOR",
    "LOCAL_OPERATOR_ID",
    "Action",
    "Actor",
    "BreakGlass",
    "Decision",
    "GovernSession",
    "OrgKind",
    "Organisation",
    "Refusal",
    "Resource",
    "ResourceKind",
    "Role",
    "decide",
    "open_session",
]
