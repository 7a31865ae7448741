"""The output-review queue: exceptions and free text need two independent checkers.

Tables (in the ledger database): ``out__review`` (one row per output waiting: who asked, why,
state) and ``out__review_votes`` (one row per checker's decision). ``submit_for_review`` queues an
output; ``record_vote`` adds a checker's approve / reject. The requester can never vote on their
own output, nor can one checker vote twice; two approvals from different checkers release it,
one rejection rejects it. Who may vote at all (the ``output_checker`` role) is decided by
``govern.decide`` in the CLI and the web app before this module is called.

A refused vote raises ``VoteRefused`` naming its rule (``output-review:self-review``,
``output-review:second-vote``), which the CLI and the web app record as a denial through
``govern.decide`` before showing the reason.

Invariants: states move pending -> released | rejected only; votes are never deleted.
"""

# SQL here is built from quoted identifiers (``quote``) and fixed table names; values are
# always bound parameters; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import duckdb

from joinedup.errors import AccessDenied, UsageError
from joinedup.outputs.ledger import LEDGER

APPROVALS_NEEDED = 2
MAX_COMMENT_LENGTH = 2000
SELF_REVIEW_RULE = "output-review:self-review"
SECOND_VOTE_RULE = "output-review:second-vote"
SELF_REVIEW_REASON = "no self-review: the person who asked for this output cannot check it"
SECOND_VOTE_REASON = (
    "this checker has already reviewed this output; a second, independent checker is needed"
)

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


class VoteRefused(AccessDenied):
    """A vote the queue refuses for the checkers' independence; ``rule`` names which."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckerVote:
    checker: str
    decision: str
    comment: str
    voted_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputRecord:
    """An output's statistical disclosure control record from the ledger: what it is, the
    profile it was checked under, its status and the checks' reasons (rules and cells, never
    values), with the review's votes."""

    release_id: str
    project_id: str
    name: str
    kind: str
    statistic: str
    profile: str
    status: str
    reasons: tuple[str, ...]
    created_at: datetime | None
    votes: tuple[CheckerVote, ...]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewQueue:
    """One page of the queue: counts by state (every state, zero or not), the page's items,
    and how many items the chosen state (or every state) holds in all."""

    counts: dict[ReviewState, int]
    items: tuple[ReviewItem, ...]
    total: int


def read_queue_page(
    con: duckdb.DuckDBPyConnection,
    state: ReviewState | None = ReviewState.PENDING,
    *,
    offset: int = 0,
    limit: int = 25,
) -> ReviewQueue:
    """Counts by state and one page of the queue (one state, or all when ``state`` is None),
    oldest first as ``list_queue`` orders it."""
    ensure_review(con)
    found = dict(
        con.execute(f"SELECT state, count(*) FROM {LEDGER}.out__review GROUP BY ALL").fetchall()
    )
    counts = {s: int(found.get(s.value, 0)) for s in ReviewState}
    where, params = ("", []) if state is None else ("WHERE state = ? ", [state.value])
    ids = con.execute(
        f"SELECT release_id FROM {LEDGER}.out__review "
        + where
        + "ORDER BY created_at, release_id LIMIT ? OFFSET ?",
        [*params, max(1, limit), max(0, offset)],
    ).fetchall()
    total = sum(counts.values()) if state is None else counts[state]
    return ReviewQueue(
        counts=counts, items=tuple(get_item(con, str(r[0])) for r in ids), total=total
    )


def votes_on(con: duckdb.DuckDBPyConnection, release_id: str) -> tuple[CheckerVote, ...]:
    ensure_review(con)
    rows = con.execute(
        f"SELECT checker, decision, comment, voted_at FROM {LEDGER}.out__review_votes "
        "WHERE release_id = ? ORDER BY voted_at",
        [release_id],
    ).fetchall()
    return tuple(
        CheckerVote(
            checker=str(r[0]),
            decision=str(r[1]),
            comment="" if r[2] is None else str(r[2]),
            voted_at=r[3] if isinstance(r[3], datetime) else None,
        )
        for r in rows
    )


def output_record(con: duckdb.DuckDBPyConnection, release_id: str) -> OutputRecord:
    """The ledger's record of one output (UsageError if the node has none)."""
    row = con.execute(
        f"SELECT release_id, project_id, name, kind, statistic, profile, status, reason, "
        f"created_at FROM {LEDGER}.out__releases WHERE release_id = ?",
        [release_id],
    ).fetchone()
    if row is None:
        raise UsageError(f"no output {release_id!r} on this node (see `joinedup output review`)")
    reasons = tuple(part for part in str(row[7] or "").split("; ") if part)
    return OutputRecord(
        release_id=str(row[0]),
        project_id=str(row[1]),
        name=str(row[2]),
        kind=str(row[3]),
        statistic=str(row[4] or ""),
        profile=str(row[5] or ""),
        status=str(row[6]),
        reasons=reasons,
        created_at=row[8] if isinstance(row[8], datetime) else None,
        votes=votes_on(con, release_id),
    )


def vote_refusal(
    con: duckdb.DuckDBPyConnection, item: ReviewItem, checker: str
) -> VoteRefused | None:
    """Why this checker may not vote on this item (self-review, a second vote), else None."""
    if checker == item.requested_by:
        return VoteRefused(SELF_REVIEW_RULE, SELF_REVIEW_REASON)
    voted = con.execute(
        f"SELECT count(*) FROM {LEDGER}.out__review_votes WHERE release_id = ? AND checker = ?",
        [item.release_id, checker],
    ).fetchone()
    if voted is not None and int(voted[0]) > 0:
        return VoteRefused(SECOND_VOTE_RULE, SECOND_VOTE_REASON)
    return None


def record_vote(
    con: duckdb.DuckDBPyConnection, *, release_id: str, checker: str, vote: Vote, comment: str = ""
) -> ReviewItem:
    """Record one checker's decision; returns the item's new state."""
    item = get_item(con, release_id)
    if item.state is not ReviewState.PENDING:
        raise UsageError(f"output {release_id} is already {item.state.value}")
    refused = vote_refusal(con, item, checker)
    if refused is not None:
        raise refused
    if len(comment) > MAX_COMMENT_LENGTH:
        raise UsageError(f"a reason is at most {MAX_COMMENT_LENGTH} characters")
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
