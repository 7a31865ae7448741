"""A broken audit chain is not only reported: ``joinedup audit verify`` logs it as an alert for
the node administrator, tracked once however often verify runs, and closed only as resolved."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from joinedup.cli.main import main
from joinedup.govern import Action, Resource, ResourceKind
from joinedup.govern.alerts import AlertKind, AlertOutcome, list_alerts, review_alert
from joinedup.govern.database import open_govern
from joinedup.govern.report import governance_report
from joinedup.ingest import init_node


def _tamper(root: Path, sql: str) -> None:
    con = duckdb.connect(str(root / "govern.duckdb"))
    try:
        con.execute(sql)
    finally:
        con.close()


def test_a_broken_chain_becomes_one_tracked_alert_until_resolved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from joinedup.govern import decide

    node = init_node(tmp_path / "node", name="findings")
    root = str(node.root)
    for name in ("a", "b", "c"):
        decide(
            node=node,
            actor="local-operator",
            action=Action.ADMINISTER_NODE,
            resource=Resource(kind=ResourceKind.NODE, name=name),
            purpose=None,
        )
    assert main(["audit", "verify", root, "--json"], {}) == 0
    assert json.loads(capsys.readouterr().out)["alert_id"] is None
    with open_govern(node) as con:
        assert list_alerts(con) == []

    _tamper(node.root, "UPDATE audit__events SET reason = 'ok' WHERE seq = 2")
    assert main(["audit", "verify", root, "--json"], {}) == 1
    first = json.loads(capsys.readouterr().out)
    assert first["intact"] is False and first["alert_id"]
    assert main(["audit", "verify", root, "--json"], {}) == 1  # the same finding: no new alert
    assert json.loads(capsys.readouterr().out)["alert_id"] is None
    with open_govern(node) as con:
        (alert,) = list_alerts(con, open_only=True)
        assert alert.alert_id == first["alert_id"] and alert.kind is AlertKind.AUDIT_FINDING
        assert "event 2 was edited" in alert.reason and "'ok'" not in alert.reason
        report = governance_report(con, since=alert.raised_at.date(), until=alert.raised_at.date())
        assert report["audit_findings_open_now"] == 1
        assert report["break_glass"]["alerts_open_now"] == 0  # type: ignore[index]

    # a finding is closed as resolved, not judged like a break-glass access
    review = ["alert", "review", root, alert.alert_id, "--outcome"]
    assert main([*review, "appropriate"], {}) == 2
    assert main([*review, "resolved"], {}) == 0
    assert main([*review, "resolved"], {}) == 2  # once
    with open_govern(node) as con:
        assert list_alerts(con, open_only=True) == []
        (closed,) = list_alerts(con)
        assert closed.review_outcome == "resolved" and closed.reviewed_by == "local-operator"


def test_a_break_glass_alert_is_not_closed_as_resolved(tmp_path: Path) -> None:
    from govern_fixtures import actor_for

    from joinedup.govern import BreakGlass, Role, decide
    from joinedup.govern.actors import add_actor
    from joinedup.model import DataLevel, Purpose

    node = init_node(tmp_path / "node", name="findings")
    teacher, dsl = actor_for(Role.TEACHER), actor_for(Role.DSL)
    with open_govern(node) as con:
        add_actor(con, teacher)
        add_actor(con, dsl)
    glass = decide(
        node=node,
        actor=teacher,
        action=Action.READ,
        resource=Resource(
            kind=ResourceKind.PERSON,
            name="store__timeline",
            level=DataLevel.L0_IDENTIFIABLE,
            person_id="P-someone",
        ),
        purpose=Purpose.DIRECT_CARE,
        break_glass=BreakGlass(reason="child brought to A&E, school contact needed now"),
    )
    assert glass.alert_id is not None
    from joinedup.errors import UsageError

    with open_govern(node) as con:
        (alert,) = list_alerts(con)
        assert alert.kind is AlertKind.BREAK_GLASS
        with pytest.raises(UsageError, match="appropriate, inappropriate"):
            review_alert(con, glass.alert_id, reviewer=dsl, outcome=AlertOutcome.RESOLVED)
        review_alert(con, glass.alert_id, reviewer=dsl, outcome=AlertOutcome.APPROPRIATE)


def test_an_incident_is_logged_tracked_and_resolved(tmp_path: Path) -> None:
    from govern_fixtures import actor_for

    from joinedup.govern import Role
    from joinedup.govern.actors import add_actor

    node = init_node(tmp_path / "node", name="incidents")
    root = str(node.root)
    with open_govern(node) as con:
        add_actor(con, actor_for(Role.TEACHER))
        add_actor(con, actor_for(Role.DSL))
    summary = "laptop with a node export left unattended in a meeting room, 2 hours"
    add = ["alert", "add", root, "--summary"]
    assert main([*add, summary, "--as", "a-teacher"], {}) == 3  # not the teacher's to log
    assert main([*add, "too short"], {}) == 2
    assert main([*add, summary, "--as", "a-designated_safeguarding_lead"], {}) == 0
    with open_govern(node) as con:
        (incident,) = list_alerts(con, open_only=True)
    assert incident.kind is AlertKind.INCIDENT and incident.reason == summary
    review = ["alert", "review", root, incident.alert_id, "--outcome"]
    assert main([*review, "inappropriate"], {}) == 2
    assert main([*review, "resolved"], {}) == 0
    with open_govern(node) as con:
        assert list_alerts(con, open_only=True) == []
