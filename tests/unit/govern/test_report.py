"""The governance report counts what the registers hold for a period: decisions by action and
outcome, refusals by rule, break-glass and its alerts, opt-outs recorded, withdrawn and in force,
projects by state; and it names no actor and no person."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from govern_fixtures import actor_for

from joinedup.cli.main import main
from joinedup.govern import (
    LOCAL_OPERATOR,
    Action,
    BreakGlass,
    Refusal,
    Resource,
    ResourceKind,
    Role,
    decide,
)
from joinedup.govern.actors import add_actor
from joinedup.govern.alerts import AlertOutcome, review_alert
from joinedup.govern.database import open_govern
from joinedup.govern.identify import identify_child
from joinedup.govern.optout import RequestedBy, record_optout, withdraw_optout
from joinedup.govern.report import governance_report
from joinedup.ingest import init_node
from joinedup.model import DataLevel, Purpose

NHS_NUMBERS = ("9434765919", "9434765870")  # valid check digits, simulated children


def test_the_report_counts_the_periods_decisions_and_the_registers(tmp_path: Path) -> None:
    node = init_node(tmp_path / "node", name="report")
    teacher, dsl = actor_for(Role.TEACHER), actor_for(Role.DSL)
    with open_govern(node) as con:
        add_actor(con, teacher)
        add_actor(con, dsl)
    audit = Resource(kind=ResourceKind.AUDIT, name="audit__events")
    for _ in range(3):  # allowed
        decide(
            node=node, actor=LOCAL_OPERATOR, action=Action.READ_AUDIT, resource=audit, purpose=None
        )
    for _ in range(2):  # denied by the admin table
        decide(node=node, actor=teacher, action=Action.READ_AUDIT, resource=audit, purpose=None)
    decide(  # a refused form
        node=node,
        actor=teacher,
        action=Action.READ_PUBLIC,
        resource=audit,
        purpose=None,
        refusal=Refusal(rule="web:csrf", reason="no token"),
    )
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
    assert glass.allowed and glass.alert_id is not None
    today = datetime.now(UTC).date()
    born = today.replace(year=today.year - 5, day=1)
    with open_govern(node) as con:
        review_alert(con, glass.alert_id, reviewer=dsl, outcome=next(iter(AlertOutcome)))
        children = [
            identify_child(node, date_of_birth=born, today=today, nhs_number=n) for n in NHS_NUMBERS
        ]
        for child in children:
            record_optout(con, child, requested_by=RequestedBy.PARENT, actor=LOCAL_OPERATOR)
        withdraw_optout(con, children[0], requested_by=RequestedBy.PARENT, actor=LOCAL_OPERATOR)
        report = governance_report(con, since=today, until=today)
        before = governance_report(
            con, since=today - timedelta(days=60), until=today - timedelta(days=1)
        )

    decisions = report["decisions"]
    assert isinstance(decisions, dict)
    assert decisions["total"] == 7 and decisions["allowed"] == 4 and decisions["denied"] == 3
    assert decisions["by_action"] == {
        "read": {"allow": 1, "deny": 0},
        "read_audit": {"allow": 3, "deny": 2},
        "read_public": {"allow": 0, "deny": 1},
    }
    assert decisions["denied_by_rule"] == {"admin:read_audit": 2, "web:csrf": 1}
    assert decisions["refused_forms"] == 1
    assert report["break_glass"] == {
        "uses": 1,
        "alerts_raised": 1,
        "alerts_reviewed": 1,
        "alerts_open_now": 0,
    }
    assert report["opt_outs"] == {"recorded": 2, "withdrawn": 1, "in_force_now": 1}
    assert report["projects_by_state"] == {
        "applied": 0,
        "rejected": 0,
        "dac_approved": 0,
        "active": 0,
        "expired": 0,
    }
    # another period sees none of it, but the registers' state now is the same
    assert before["decisions"] == {
        "total": 0,
        "allowed": 0,
        "denied": 0,
        "by_action": {},
        "denied_by_rule": {},
        "refused_forms": 0,
    }
    assert before["opt_outs"] == {"recorded": 0, "withdrawn": 0, "in_force_now": 1}
    text = json.dumps(report)
    for named in (teacher.actor_id, dsl.actor_id, "local-operator", "P-someone", "A&E"):
        assert named not in text


def test_the_cli_report_is_for_the_audit_readers(tmp_path: Path, capsys: object) -> None:
    node = init_node(tmp_path / "node", name="report")
    with open_govern(node) as con:
        add_actor(con, actor_for(Role.TEACHER))
    args = ["audit", "report", str(node.root), "--json"]
    assert main([*args, "--as", "a-teacher"], {}) == 3
    assert main(args, {}) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    report = json.loads(out)
    assert report["audit_chain_intact"] is True
    # the teacher's refusal and this report's own decision
    assert report["decisions"]["by_action"]["read_audit"] == {"allow": 1, "deny": 1}
    assert main([*args, "--since", "2026-02-01", "--until", "2026-01-01"], {}) == 2
    assert date.fromisoformat(report["until"]) == datetime.now(UTC).date()
