"""The platform dissent register: a family's opt-out from every secondary use.

The national data opt-out covers health and adult social care only; this register makes opting
out mean the same for every source a node holds (education, social care, police, housing too).

Rules:
- a parent opts out for a child under 13; a young person of 13 or over opts out for themselves
  (the national opt-out's age of competence);
- the register holds the child's keyed pseudonym and month of birth (``ChildKey``), never an
  identifier, and never a flag on the child's rows;
- from the next ``joinedup node refresh`` the child is absent from every ``view__secondary__*``
  view (planning, population health, research, evaluation: ``joinedup.store.secondary``), and
  still present in ``store__*`` for direct care, to which opt-outs do not apply;
- a family may withdraw its opt-out (``withdraw_optout``), under the same age rule and naming
  the child the same way (NHS number or UPN, with the date of birth) as when opting out: the
  withdrawal is a row of its own in ``govern__dissent_withdrawals``, and from the next refresh
  the child is back in every secondary view. A later opt-out puts the child out again.

Invariants: recording and withdrawing are audited by ``decide`` (actions ``record_optout`` and
``withdraw_optout``); both registers' rows are appended, never edited or deleted, so the history
of a family's choices stays whole. Withdrawing when no opt-out is in force for that key is a
``UsageError`` (it tells someone who already holds the child's identifiers whether an opt-out is
in force; a family needs that answer to know its request worked).
"""

# SQL here is assembled from this module's own constants (table and column names), never
# from values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import duckdb

from joinedup.errors import UsageError
from joinedup.govern.identify import ChildKey
from joinedup.govern.model import Actor
from joinedup.store.secondary import DISSENT_TABLE, EXCLUDED_TABLE, WITHDRAWAL_TABLE

AGE_OF_OWN_CHOICE = 13


class RequestedBy(StrEnum):
    PARENT = "parent"
    YOUNG_PERSON = "young_person"


@dataclass(frozen=True, slots=True, kw_only=True)
class OptOut:
    optout_id: str
    namespace: str
    identified_by: str
    birth_month: str
    requested_by: RequestedBy
    recorded_by: str
    recorded_at: datetime
    withdrawn_at: datetime | None = None  # when a later withdrawal cancelled it


@dataclass(frozen=True, slots=True, kw_only=True)
class Withdrawal:
    withdrawal_id: str
    namespace: str
    identified_by: str
    requested_by: RequestedBy
    recorded_by: str
    withdrawn_at: datetime
    optouts_withdrawn: int  # opt-outs of this child key that were in force


def check_requester(requested_by: RequestedBy, age_years: int) -> None:
    if requested_by is RequestedBy.PARENT and age_years >= AGE_OF_OWN_CHOICE:
        raise UsageError(
            f"a child of {AGE_OF_OWN_CHOICE} or over opts out for themselves "
            "(--requested-by young_person)"
        )
    if requested_by is RequestedBy.YOUNG_PERSON and age_years < AGE_OF_OWN_CHOICE:
        raise UsageError(
            f"for a child under {AGE_OF_OWN_CHOICE} a parent opts out (--requested-by parent)"
        )


def record_optout(
    con: duckdb.DuckDBPyConnection, child: ChildKey, *, requested_by: RequestedBy, actor: Actor
) -> OptOut:
    check_requester(requested_by, child.age_years)
    optout = OptOut(
        optout_id="O" + uuid.uuid4().hex[:10],
        namespace=child.namespace,
        identified_by=child.identified_by,
        birth_month=child.birth_month,
        requested_by=requested_by,
        recorded_by=actor.actor_id,
        recorded_at=datetime.now(UTC).replace(tzinfo=None),
    )
    con.execute(
        f"INSERT INTO {DISSENT_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            optout.optout_id,
            child.namespace,
            child.subject_key,
            child.birth_month,
            child.identified_by,
            requested_by.value,
            actor.actor_id,
            optout.recorded_at,
        ],
    )
    return optout


def _in_force(con: duckdb.DuckDBPyConnection, child: ChildKey) -> int:
    row = con.execute(
        f"SELECT count(*) FROM {DISSENT_TABLE} d WHERE d.namespace = ? AND d.subject_key = ? "
        f"AND NOT EXISTS (SELECT 1 FROM {WITHDRAWAL_TABLE} w WHERE w.namespace = d.namespace "
        "AND w.subject_key = d.subject_key AND w.withdrawn_at >= d.recorded_at)",
        [child.namespace, child.subject_key],
    ).fetchone()
    return 0 if row is None else int(row[0])


def withdraw_optout(
    con: duckdb.DuckDBPyConnection, child: ChildKey, *, requested_by: RequestedBy, actor: Actor
) -> Withdrawal:
    """Withdraw the child's opt-out: back in secondary views from the next refresh."""
    check_requester(requested_by, child.age_years)
    in_force = _in_force(con, child)
    if not in_force:
        how = "NHS number" if child.identified_by.startswith("nhs") else "UPN"
        raise UsageError(
            f"no opt-out is in force for this child under this {how} and date of birth; "
            "name the child as when opting out (the same NHS number or UPN)"
        )
    withdrawal = Withdrawal(
        withdrawal_id="W" + uuid.uuid4().hex[:10],
        namespace=child.namespace,
        identified_by=child.identified_by,
        requested_by=requested_by,
        recorded_by=actor.actor_id,
        withdrawn_at=datetime.now(UTC).replace(tzinfo=None),
        optouts_withdrawn=in_force,
    )
    con.execute(
        f"INSERT INTO {WITHDRAWAL_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            withdrawal.withdrawal_id,
            child.namespace,
            child.subject_key,
            child.identified_by,
            requested_by.value,
            actor.actor_id,
            withdrawal.withdrawn_at,
        ],
    )
    return withdrawal


def list_optouts(con: duckdb.DuckDBPyConnection) -> list[OptOut]:
    """Every opt-out ever recorded, with when it was withdrawn (None: still in force)."""
    rows = con.execute(
        "SELECT d.optout_id, d.namespace, d.identified_by, d.birth_month, d.requested_by, "
        "d.recorded_by, d.recorded_at, (SELECT min(w.withdrawn_at) FROM "
        f"{WITHDRAWAL_TABLE} w WHERE w.namespace = d.namespace "
        "AND w.subject_key = d.subject_key AND w.withdrawn_at >= d.recorded_at) "
        f"FROM {DISSENT_TABLE} d ORDER BY d.recorded_at, d.optout_id"
    ).fetchall()
    return [
        OptOut(
            optout_id=str(r[0]),
            namespace=str(r[1]),
            identified_by=str(r[2]),
            birth_month=str(r[3]),
            requested_by=RequestedBy(str(r[4])),
            recorded_by=str(r[5]),
            recorded_at=r[6],
            withdrawn_at=r[7],
        )
        for r in rows
    ]


def excluded_person_count(store: duckdb.DuckDBPyConnection | None) -> int | None:
    """Persons the last refresh excluded from secondary views (None before any refresh)."""
    if store is None:
        return None
    try:
        row = store.execute(f"SELECT count(*) FROM {EXCLUDED_TABLE}").fetchone()
    except duckdb.CatalogException:
        return None
    return 0 if row is None else int(row[0])
