"""The output-review queue: exceptions and free text need two independent checkers.

Tables (in the ledger database): ``out__review`` (one row per output waiting: who asked, why,
state) and ``out__review_votes`` (one row per checker's decision). ``submit_for_review`` queues an
output; ``record_vote`` adds a checker's approve / reject. The requester can never vote on their
own output, nor can one checker vote twice; two approvals from different checkers release it,
one rejection rejects it. Who may vote at all (the ``output_checker`` role) is decided by
``govern.decide`` in the CLI and the web app before this module is called.

Invariants: states move pending -> released | rejected only; votes are never deleted.
"""

# SQL here is built from quoted identifiers (``quote``) and fixed table names; values are
# always bound parameters; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import duckdb

from joinedup.errors import AccessDenied, UsageError
from joinedup.outputs.ledger import LEDGER

APPROVALS_NEEDED = 2

REVIEW_SCHEMA = [
    f"""CREATE TABLE IF NOT EXISTS {LEDGER}.out__review (
        release_id VARCHAR PRIMARY KEY, project_id VARCHAR, requested_by VARCHAR, why VARCHAR,
        state VARCHAR, created_at TIMESTAMP DEFAULT current_timestamp)""",
    f"""CREATE TABLE IF NOT EXISTS {LEDGER}.out__review_votes (
        release_id VARCHAR, checker VARCHAR, decision VARCHAR, comment VARCHAR,
        voted_at TIMESTAMP DEFAULT current_timestamp)""",
]


class ReviewState(StrEnum):
    PENDING = "pending"
    RELEASED = "released"
    REJECTED = "rejected"


class Vote(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewItem:
    release_id: str
    project_id: str
    requested_by: str
    why: str
    state: ReviewState
    approvals: tuple[str, ...]


def ensure_review(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in REVIEW_SCHEMA:
        con.execute(stmt)


def submit_for_review(
    con: duckdb.DuckDBPyConnection, *, release_id: str, project_id: str, requested_by: str, why: str
) -> None:
    ensure_review(con)
    con.execute(
        f"INSERT INTO {LEDGER}.out__review (release_id, project_id, requested_by, why, state) "
        "VALUES (?, ?, ?, ?, ?)",
        [release_id, project_id, requested_by, why, ReviewState.PENDING.value],
    )


def get_item(con: duckdb.DuckDBPyConnection, release_id: str) -> ReviewItem:
    ensure_review(con)
    row = con.execute(
        f"SELECT release_id, project_id, requested_by, why, state FROM {LEDGER}.out__review "
        "WHERE release_id = ?",
        [release_id],
    ).fetchone()
    if row is None:
        raise UsageError(
            f"no output {release_id!r} is waiting for review (see `joinedup output review`)"
        )
    approvals = tuple(
        str(r[0])
        for r in con.execute(
            f"SELECT checker FROM {LEDGER}.out__review_votes WHERE release_id = ? AND decision = ?",
            [release_id, Vote.APPROVE.value],
        ).fetchall()
    )
    return ReviewItem(
        release_id=str(row[0]),
        project_id=str(row[1]),
        requested_by=str(row[2]),
        why=str(row[3]),
        state=ReviewState(str(row[4])),
        approvals=approvals,
    )


def list_queue(con: duckdb.DuckDBPyConnection, *, pending_only: bool = True) -> list[ReviewItem]:
    ensure_review(con)
    where = "WHERE state = 'pending'" if pending_only else ""
    ids = [
        r[0]
        for r in con.execute(
            f"SELECT release_id FROM {LEDGER}.out__review {where} ORDER BY created_at"
        ).fetchall()
    ]
    return [get_item(con, str(i)) for i in ids]


def record_vote(
    con: duckdb.DuckDBPyConnection, *, release_id: str, checker: str, vote: Vote, comment: str = ""
) -> ReviewItem:
    """Record one checker's decision; returns the item's new state."""
    item = get_item(con, release_id)
    if item.state is not ReviewState.PENDING:
        raise UsageError(f"output {release_id} is already {item.state.value}")
    if checker == item.requested_by:
        raise AccessDenied("no self-review: the person who asked for this output cannot check it")
    voted = con.execute(
        f"SELECT count(*) FROM {LEDGER}.out__review_votes WHERE release_id = ? AND checker = ?",
        [release_id, checker],
    ).fetchone()
    if voted is not None and int(voted[0]) > 0:
        raise AccessDenied(
            "this checker has already reviewed this output; a second, independent checker is needed"
        )
    con.execute(
        f"INSERT INTO {LEDGER}.out__review_votes (release_id, checker, decision, comment) "
        "VALUES (?, ?, ?, ?)",
        [release_id, checker, vote.value, comment],
    )
    state = ReviewState.PENDING
    if vote is Vote.REJECT:
        state = ReviewState.REJECTED
    elif len(item.approvals) + 1 >= APPROVALS_NEEDED:
        state = ReviewState.RELEASED
    if state is not ReviewState.PENDING:
        con.execute(
            f"UPDATE {LEDGER}.out__review SET state = ? WHERE release_id = ?",
            [state.value, release_id],
        )
    return get_item(con, release_id)
