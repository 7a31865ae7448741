"""Every role x purpose x level cell, decided for real and checked against a table written here.

The table below is written independently of ``joinedup.govern.policy`` (double entry): a change to
the policy must be made in both places. Codes: A allow, - deny, R relationship, P project,
J job (double lock), C contact with consent. Rows: direct_care, planning, population_health,
research, evaluation; columns: L0 L1 L2 L3 L4.
"""

from __future__ import annotations

import pytest
from govern_fixtures import TODAY, actor_for

from joinedup.config import NodeSettings
from joinedup.govern import (
    Action,
    BreakGlass,
    GovernSession,
    Resource,
    ResourceKind,
    Role,
    decide,
)
from joinedup.govern.policy import MATRIX
from joinedup.model import DataLevel, Purpose

FRONT = "R - - - A / - - - - A / - - - - A / - - - - A / - - - - A"
PUBLIC = "- - - - A / - - - - A / - - - - A / - - - - A / - - - - A"
EXPECTED: dict[Role, str] = {
    Role.TEACHER: FRONT,
    Role.SENDCO: FRONT,
    Role.DSL: FRONT,
    Role.HEALTH_VISITOR: FRONT,
    Role.GP: FRONT,
    Role.PAEDIATRICIAN: FRONT,
    Role.SOCIAL_WORKER: FRONT,
    Role.SOCIAL_PRESCRIBER: FRONT,
    Role.NODE_ANALYST: "- - - - A / - A A A A / - A A A A / - J P P A / - P P P A",
    Role.RESEARCHER: "- - - - A / - - - - A / - - - - A / C J P P A / - J P P A",
    Role.COMMISSIONER: "- - - - A / - - A - A / - - A - A / - - - - A / - - P - A",
    Role.OUTPUT_CHECKER: "- - - - A / - - A - A / - - A - A / - - A - A / - - A - A",
    Role.DAC_MEMBER: PUBLIC,
    Role.NODE_ADMIN: PUBLIC,
    Role.CITIZEN: PUBLIC,
}

CELLS = [
    (role, purpose, level, code)
    for role, grid in EXPECTED.items()
    for purpose, row in zip(Purpose, grid.split(" / "), strict=True)
    for level, code in zip(DataLevel, row.split(), strict=True)
]


def test_the_table_covers_every_cell_and_matches_the_policy() -> None:
    assert len(CELLS) == len(Role) * len(Purpose) * len(DataLevel) == 375
    assert {(r, p, lv): c for r, p, lv, c in CELLS} == {k: v.value for k, v in MATRIX.items()}


def _resource(purpose: Purpose, level: DataLevel) -> Resource:
    if level is DataLevel.L0_IDENTIFIABLE:
        return Resource(kind=ResourceKind.PERSON, name="person", level=level, person_id="f" * 32)
    name = "store__person" if purpose is Purpose.DIRECT_CARE else "view__secondary__person"
    return Resource(kind=ResourceKind.TABLE, name=name, level=level, columns=("sex",))


@pytest.mark.parametrize(
    ("role", "purpose", "level", "code"),
    CELLS,
    ids=[f"{r.value}-{p.value}-{lv.value}" for r, p, lv, _ in CELLS],
)
def test_cell(
    session: GovernSession, role: Role, purpose: Purpose, level: DataLevel, code: str
) -> None:
    actor = actor_for(role)
    read = decide(
        node=session,
        actor=actor.actor_id,
        action=Action.READ,
        resource=_resource(purpose, level),
        purpose=purpose,
        today=TODAY,
    )
    # with no relationship in the (empty) store and no project, only A cells allow a read
    assert read.allowed is (code == "A"), read.reason
    assert read.rule.endswith(f"={code}")
    assert read.event.outcome == ("allow" if read.allowed else "deny")
    if code == "R":
        glass = decide(
            node=session,
            actor=actor.actor_id,
            action=Action.READ,
            resource=_resource(purpose, level),
            purpose=purpose,
            break_glass=BreakGlass(reason="child missing overnight, police request at 02:00"),
            today=TODAY,
        )
        assert glass.allowed and glass.break_glass and glass.alert_id is not None
        assert glass.event.purpose_of_use == "ETREAT"
    if code in ("P", "J", "C"):
        assert "project" in read.reason or "jobs" in read.reason or "contact" in read.reason


def test_break_glass_needs_a_real_reason(node: NodeSettings) -> None:
    d = decide(
        node=node,
        actor=actor_for(Role.GP).actor_id,
        action=Action.READ,
        resource=_resource(Purpose.DIRECT_CARE, DataLevel.L0_IDENTIFIABLE),
        purpose=Purpose.DIRECT_CARE,
        break_glass=BreakGlass(reason="urgent"),
        today=TODAY,
    )
    assert not d.allowed and "at least" in d.reason


def test_secondary_purposes_read_secondary_views_only(node: NodeSettings) -> None:
    d = decide(
        node=node,
        actor=actor_for(Role.NODE_ANALYST).actor_id,
        action=Action.READ,
        resource=Resource(
            kind=ResourceKind.TABLE, name="store__person", level=DataLevel.L1_PSEUDONYMISED
        ),
        purpose=Purpose.PLANNING,
        today=TODAY,
    )
    assert not d.allowed and "view__secondary__" in d.reason
