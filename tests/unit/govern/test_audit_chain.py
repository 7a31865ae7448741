"""The audit chain detects an edited, deleted, reordered or truncated event."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from joinedup.config import NodeSettings
from joinedup.govern import Action, Resource, ResourceKind, decide
from joinedup.govern.audit import verify_audit
from joinedup.ingest import init_node


@pytest.fixture
def chained(tmp_path: Path) -> NodeSettings:
    settings = init_node(tmp_path / "node", name="audit")
    for name in ("a", "b", "c", "d", "e"):
        decide(
            node=settings,
            actor="local-operator",
            action=Action.ADMINISTER_NODE,
            resource=Resource(kind=ResourceKind.NODE, name=name),
            purpose=None,
        )
    decide(
        node=settings,
        actor="nobody",
        action=Action.ADMINISTER_NODE,
        resource=Resource(kind=ResourceKind.NODE, name="x"),
        purpose=None,
    )
    return settings


def _sql(settings: NodeSettings, sql: str) -> None:
    con = duckdb.connect(str(settings.root / "govern.duckdb"))
    try:
        con.execute(sql)
    finally:
        con.close()


def test_an_untouched_chain_verifies(chained: NodeSettings) -> None:
    result = verify_audit(chained)
    assert result.is_intact and result.events == 6


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE audit__events SET outcome = 'allow' WHERE seq = 6", "event 6 was edited"),
        ("UPDATE audit__events SET reason = 'ok' WHERE seq = 2", "event 2 was edited"),
        ("DELETE FROM audit__events WHERE seq = 3", "deleted"),
        (
            "UPDATE audit__events SET seq = CASE seq WHEN 2 THEN 4 WHEN 4 THEN 2 ELSE seq END",
            "does not follow",
        ),
        ("DELETE FROM audit__events WHERE seq >= 5", "truncated"),
    ],
    ids=["edit-outcome", "edit-reason", "delete", "reorder", "truncate"],
)
def test_tampering_is_detected(chained: NodeSettings, tamper: str, expected: str) -> None:
    _sql(chained, tamper)
    result = verify_audit(chained)
    assert not result.is_intact
    assert any(expected in p for p in result.problems), result.problems


def test_a_rehashed_edit_is_still_caught_by_the_next_link(chained: NodeSettings) -> None:
    # an editor who recomputes the edited event's hash breaks the next event's prev_hash
    from joinedup.govern.audit import event_hash, read_events

    con = duckdb.connect(str(chained.root / "govern.duckdb"))
    try:
        event = read_events(con)[2]
        fields = event.as_dict() | {"reason": "forged", "recorded_at": event.recorded_at}
        con.execute(
            "UPDATE audit__events SET reason = 'forged', hash = ? WHERE seq = 3",
            [event_hash(fields)],
        )
    finally:
        con.close()
    problems = verify_audit(chained).problems
    assert any("event 4 does not follow" in p for p in problems), problems


def test_a_deleted_head_file_is_reported(chained: NodeSettings) -> None:
    (chained.root / "audit.head").unlink()
    assert not verify_audit(chained).is_intact


def test_a_restored_older_copy_is_caught_by_the_head(chained: NodeSettings, tmp_path: Path) -> None:
    copy = tmp_path / "old.duckdb"
    shutil.copy(chained.root / "govern.duckdb", copy)
    decide(
        node=chained,
        actor="local-operator",
        action=Action.ADMINISTER_NODE,
        resource=Resource(kind=ResourceKind.NODE, name="later"),
        purpose=None,
    )
    shutil.copy(copy, chained.root / "govern.duckdb")
    assert any("truncated" in p for p in verify_audit(chained).problems)
