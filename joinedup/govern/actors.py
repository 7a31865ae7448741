"""The actor register: named people with one role in one organisation.

Invariants:
- actor ids are unique; an actor is never shared (individual accounts only);
- a suspended actor (``suspend_actor``, an incident's first containment step) is refused every
  decision until reinstated; suspensions are rows of their own, appended and then lifted,
  never deleted, and ``local-operator`` (the console) cannot be suspended;
- ``LOCAL_OPERATOR`` (``local-operator``, a node administrator) exists on every node without
  being registered: it is who the local CLI acts as by default.
"""

# SQL here is assembled from this module's own constants (table and column names), never
# from values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb

from joinedup.errors import AccessDenied, UsageError
from joinedup.govern.model import (
    LOCAL_OPERATOR,
    LOCAL_OPERATOR_ID,
    Actor,
    Organisation,
    OrgKind,
    Role,
)

_COLUMNS = (
    "actor_id, display_name, role, org_id, org_kind, org_name, org_code, org_urns, "
    "accredited_until, ig_training_on, is_lay"
)


def add_actor(con: duckdb.DuckDBPyConnection, actor: Actor) -> None:
    if actor.actor_id == LOCAL_OPERATOR_ID:
        raise UsageError(f"{LOCAL_OPERATOR_ID} is built in; choose another actor id")
    if get_actor_or_none(con, actor.actor_id) is not None:
        raise UsageError(f"actor {actor.actor_id} already exists; actor ids are individual")
    con.execute(
        f"INSERT INTO govern__actors ({_COLUMNS}, created_at) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            actor.actor_id,
            actor.display_name,
            actor.role.value,
            actor.org.org_id,
            actor.org.kind.value,
            actor.org.name,
            actor.org.code,
            json.dumps(list(actor.org.urns)),
            actor.accredited_until,
            actor.ig_training_on,
            actor.is_lay,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )


def _actor(row: tuple[object, ...]) -> Actor:
    (aid, name, role, org_id, kind, org_name, code, urns, accredited, trained, lay) = row
    return Actor(
        actor_id=str(aid),
        display_name=str(name),
        role=Role(str(role)),
        org=Organisation(
            org_id=str(org_id),
            kind=OrgKind(str(kind)),
            name=str(org_name),
            code=None if code is None else str(code),
            urns=tuple(int(u) for u in json.loads(str(urns))),
        ),
        accredited_until=accredited,  # type: ignore[arg-type]
        ig_training_on=trained,  # type: ignore[arg-type]
        is_lay=bool(lay),
    )


def get_actor_or_none(con: duckdb.DuckDBPyConnection, actor_id: str) -> Actor | None:
    if actor_id == LOCAL_OPERATOR_ID:
        return LOCAL_OPERATOR
    row = con.execute(
        f"SELECT {_COLUMNS} FROM govern__actors WHERE actor_id = ?", [actor_id]
    ).fetchone()
    return None if row is None else _actor(tuple(row))


def get_actor(con: duckdb.DuckDBPyConnection, actor_id: str) -> Actor:
    actor = get_actor_or_none(con, actor_id)
    if actor is None:
        raise AccessDenied(
            f"actor {actor_id} is not registered on this node (see: joinedup actor list)"
        )
    return actor


def list_actors(con: duckdb.DuckDBPyConnection) -> list[Actor]:
    rows = con.execute(f"SELECT {_COLUMNS} FROM govern__actors ORDER BY actor_id").fetchall()
    return [LOCAL_OPERATOR, *(_actor(tuple(r)) for r in rows)]


MIN_SUSPENSION_REASON = 10


def suspension_of(con: duckdb.DuckDBPyConnection, actor_id: str) -> str | None:
    """Why the actor is suspended now, or None."""
    row = con.execute(
        "SELECT reason FROM govern__suspensions WHERE actor_id = ? AND lifted_at IS NULL "
        "ORDER BY suspended_at DESC LIMIT 1",
        [actor_id],
    ).fetchone()
    return None if row is None else str(row[0])


def suspend_actor(con: duckdb.DuckDBPyConnection, actor_id: str, *, by: Actor, reason: str) -> None:
    if actor_id == LOCAL_OPERATOR_ID:
        raise UsageError(f"{LOCAL_OPERATOR_ID} is the node's console and cannot be suspended")
    get_actor(con, actor_id)
    if len(reason.strip()) < MIN_SUSPENSION_REASON:
        raise UsageError(f"give a reason of at least {MIN_SUSPENSION_REASON} characters")
    if suspension_of(con, actor_id) is not None:
        raise UsageError(f"actor {actor_id} is suspended already")
    con.execute(
        "INSERT INTO govern__suspensions VALUES (?, ?, ?, ?, NULL, NULL)",
        [actor_id, by.actor_id, datetime.now(UTC).replace(tzinfo=None), reason.strip()],
    )


def reinstate_actor(con: duckdb.DuckDBPyConnection, actor_id: str, *, by: Actor) -> None:
    if suspension_of(con, actor_id) is None:
        raise UsageError(f"actor {actor_id} is not suspended")
    con.execute(
        "UPDATE govern__suspensions SET lifted_by = ?, lifted_at = ? "
        "WHERE actor_id = ? AND lifted_at IS NULL",
        [by.actor_id, datetime.now(UTC).replace(tzinfo=None), actor_id],
    )
