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
  still present in ``store__*`` for direct care, to which opt-outs do not apply.

Invariants: recording an opt-out is audited by ``decide`` (action ``record_optout``); the
register's rows are appended, never edited.
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
from joinedup.store.secondary import DISSENT_TABLE, EXCLUDED_TABLE

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


def list_optouts(con: duckdb.DuckDBPyConnection) -> list[OptOut]:
    rows = con.execute(
        "SELECT optout_id, namespace, identified_by, birth_month, requested_by, recorded_by, "
        f"recorded_at FROM {DISSENT_TABLE} ORDER BY recorded_at, optout_id"
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
