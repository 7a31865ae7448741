"""Legitimate relationships read from a real linked store, and break-glass when there is none.

The store is a simulated district's (ingested and refreshed); the children each test uses are
picked from its tables, so a relationship the store shows must allow and one it does not show
must deny.
"""

from __future__ import annotations

import duckdb
import pytest
from govern_fixtures import TODAY, actor_for

from joinedup.config import NodeSettings
from joinedup.errors import UsageError
from joinedup.govern import (
    Action,
    Actor,
    BreakGlass,
    Decision,
    Organisation,
    OrgKind,
    Resource,
    ResourceKind,
    Role,
    decide,
)
from joinedup.govern.actors import add_actor, get_actor
from joinedup.govern.alerts import AlertOutcome, list_alerts, review_alert
from joinedup.govern.database import open_govern
from joinedup.govern.model import MIN_BREAK_GLASS_REASON
from joinedup.model import DataLevel, Purpose

REASON = "child brought to A&E unconscious, no school contact reachable"


def _one(store: NodeSettings, sql: str, params: list[object] | None = None) -> tuple[object, ...]:
    con = duckdb.connect(str(store.store_path), read_only=True)
    try:
        row = con.execute(sql, params or []).fetchone()
    finally:
        con.close()
    assert row is not None, sql
    return tuple(row)


def _actor(node: NodeSettings, actor_id: str, role: Role, org: Organisation) -> str:
    with open_govern(node) as con:
        add_actor(
            con,
            Actor(
                actor_id=actor_id, display_name=actor_id, role=role, org=org, ig_training_on=TODAY
            ),
        )
    return actor_id


def _read(
    node: NodeSettings, actor_id: str, person_id: str, glass: BreakGlass | None = None
) -> Decision:
    return decide(
        node=node,
        actor=actor_id,
        action=Action.READ,
        resource=Resource(
            kind=ResourceKind.PERSON,
            name="person",
            level=DataLevel.L0_IDENTIFIABLE,
            person_id=person_id,
        ),
        purpose=Purpose.DIRECT_CARE,
        break_glass=glass,
        today=TODAY,
    )


@pytest.fixture(scope="module")
def school_case(district: NodeSettings) -> tuple[str, str, str]:
    """A teacher at a school, a pupil on roll there and a pupil on roll only elsewhere."""
    urn, here = _one(
        district,
        "SELECT urn, min(person_id) FROM store__enrolment GROUP BY urn "
        "ORDER BY count(*) DESC, urn LIMIT 1",
    )
    (elsewhere,) = _one(
        district,
        "SELECT min(person_id) FROM store__enrolment WHERE urn <> ? AND person_id NOT IN "
        "(SELECT person_id FROM store__enrolment WHERE urn = ?)",
        [urn, urn],
    )
    org = Organisation(org_id=f"school-{urn}", kind=OrgKind.SCHOOL, name="a school", code=str(urn))
    teacher = _actor(district, "teacher-at-school", Role.TEACHER, org)
    return teacher, str(here), str(elsewhere)


def test_a_teacher_sees_a_pupil_on_roll_at_their_school(
    district: NodeSettings, school_case: tuple[str, str, str]
) -> None:
    teacher, here, _ = school_case
    d = _read(district, teacher, here)
    assert d.allowed and "on_roll" in d.reason and not d.break_glass


def test_a_teacher_does_not_see_a_pupil_of_another_school(
    district: NodeSettings, school_case: tuple[str, str, str]
) -> None:
    teacher, _, elsewhere = school_case
    d = _read(district, teacher, elsewhere)
    assert not d.allowed and "no legitimate relationship" in d.reason
    assert d.event.outcome == "deny" and d.event.person_id == elsewhere


def test_an_academy_trust_sees_pupils_of_its_schools(
    district: NodeSettings, school_case: tuple[str, str, str]
) -> None:
    _, here, elsewhere = school_case
    (urn,) = _one(district, "SELECT min(urn) FROM store__enrolment WHERE person_id = ?", [here])
    trust = Organisation(
        org_id="trust-1", kind=OrgKind.ACADEMY_TRUST, name="a trust", urns=(int(str(urn)),)
    )
    sendco = _actor(district, "sendco-at-trust", Role.SENDCO, trust)
    assert _read(district, sendco, here).allowed
    assert not _read(district, sendco, elsewhere).allowed


def test_a_gp_sees_a_child_registered_at_the_practice(district: NodeSettings) -> None:
    practice, registered = _one(
        district,
        "SELECT practice_code, min(person_id) FROM store__gp_registration "
        "WHERE registration_end IS NULL GROUP BY practice_code ORDER BY practice_code LIMIT 1",
    )
    (other,) = _one(
        district,
        "SELECT min(person_id) FROM store__person WHERE person_id NOT IN (SELECT person_id "
        "FROM store__gp_registration WHERE practice_code = ? AND registration_end IS NULL)",
        [practice],
    )
    org = Organisation(
        org_id=f"gp-{practice}", kind=OrgKind.GP_PRACTICE, name="a practice", code=str(practice)
    )
    gp = _actor(district, "gp-at-practice", Role.GP, org)
    allowed = _read(district, gp, str(registered))
    assert allowed.allowed and "registered" in allowed.reason
    assert not _read(district, gp, str(other)).allowed


def test_an_la_team_sees_an_open_case_only(district: NodeSettings) -> None:
    (open_case,) = _one(
        district,
        "SELECT min(person_id) FROM store__social_care_episode WHERE end_date IS NULL "
        "AND episode_type IN ('cin_referral', 'child_protection_plan')",
    )
    (no_case,) = _one(
        district,
        "SELECT min(person_id) FROM store__person WHERE person_id NOT IN "
        "(SELECT person_id FROM store__social_care_episode WHERE end_date IS NULL) "
        "AND person_id NOT IN (SELECT person_id FROM store__cla_episode WHERE end_date IS NULL)",
    )
    team = Organisation(org_id="la-cin", kind=OrgKind.LA_TEAM, name="children's services")
    worker = _actor(district, "social-worker-1", Role.SOCIAL_WORKER, team)
    allowed = _read(district, worker, str(open_case))
    assert allowed.allowed and "open_case" in allowed.reason
    assert not _read(district, worker, str(no_case)).allowed


def test_police_have_no_derivable_relationship(
    district: NodeSettings, school_case: tuple[str, str, str]
) -> None:
    police = Organisation(org_id="police-1", kind=OrgKind.POLICE, name="police")
    officer = _actor(district, "officer-1", Role.DSL, police)
    _, here, _ = school_case
    assert not _read(district, officer, here).allowed


# --- break-glass --------------------------------------------------------------------------


def test_break_glass_needs_a_reason_long_enough(
    district: NodeSettings, school_case: tuple[str, str, str]
) -> None:
    teacher, _, elsewhere = school_case
    short = "x" * (MIN_BREAK_GLASS_REASON - 1)
    padded = "   " + short + "   "  # spaces do not count
    for reason in (short, padded):
        d = _read(district, teacher, elsewhere, BreakGlass(reason=reason))
        assert not d.allowed and "at least" in d.reason and d.alert_id is None
    just = _read(district, teacher, elsewhere, BreakGlass(reason="y" * MIN_BREAK_GLASS_REASON))
    assert just.allowed and just.break_glass


def test_break_glass_alerts_the_safeguarding_lead_and_is_audited(
    district: NodeSettings, school_case: tuple[str, str, str]
) -> None:
    teacher, _, elsewhere = school_case
    d = _read(district, teacher, elsewhere, BreakGlass(reason=REASON))
    assert d.allowed and d.break_glass and d.alert_id is not None
    assert d.event.break_glass and d.event.purpose_of_use == "ETREAT"
    assert d.event.alert_id == d.alert_id and REASON not in d.event.reason  # reason kept apart
    with open_govern(district) as con:
        row = con.execute(
            "SELECT event_id, actor_id, person_id, reason, recipient_role, status "
            "FROM govern__alerts WHERE alert_id = ?",
            [d.alert_id],
        ).fetchone()
    assert row == (
        d.event.event_id,
        teacher,
        elsewhere,
        REASON,
        Role.DSL.value,
        "open",
    )


def test_break_glass_is_not_needed_with_a_relationship(
    district: NodeSettings, school_case: tuple[str, str, str]
) -> None:
    teacher, here, _ = school_case
    d = _read(district, teacher, here, BreakGlass(reason=REASON))
    assert d.allowed and not d.break_glass and d.alert_id is None


def test_break_glass_is_for_direct_care_only(district: NodeSettings) -> None:
    d = decide(
        node=district,
        actor=actor_for(Role.RESEARCHER).actor_id,
        action=Action.READ,
        resource=Resource(
            kind=ResourceKind.PERSON,
            name="person",
            level=DataLevel.L0_IDENTIFIABLE,
            person_id="0" * 32,
        ),
        purpose=Purpose.RESEARCH,
        break_glass=BreakGlass(reason=REASON),
        today=TODAY,
    )
    assert not d.allowed and not d.break_glass and d.alert_id is None


def test_an_alert_is_reviewed_once_and_never_by_the_one_who_broke_the_glass(
    district: NodeSettings, school_case: tuple[str, str, str]
) -> None:
    teacher, _, elsewhere = school_case
    d = _read(district, teacher, elsewhere, BreakGlass(reason=REASON))
    assert d.alert_id is not None
    lead = Organisation(org_id="school-x", kind=OrgKind.SCHOOL, name="a school", code="100001")
    dsl = _actor(district, "dsl-reviewer", Role.DSL, lead)
    with open_govern(district) as con:
        me = get_actor(con, teacher)
        with pytest.raises(UsageError, match="cannot review"):
            review_alert(con, d.alert_id, reviewer=me, outcome=AlertOutcome.APPROPRIATE)
    # a DSL who broke the glass may not review their own alert either
    own = _read(district, dsl, elsewhere, BreakGlass(reason=REASON))
    assert own.allowed and own.alert_id is not None
    with open_govern(district) as con:
        reviewer = get_actor(con, dsl)
        with pytest.raises(UsageError, match="own break-glass"):
            review_alert(con, own.alert_id, reviewer=reviewer, outcome=AlertOutcome.APPROPRIATE)
        review_alert(con, d.alert_id, reviewer=reviewer, outcome=AlertOutcome.INAPPROPRIATE)
        with pytest.raises(UsageError, match="already reviewed"):
            review_alert(con, d.alert_id, reviewer=reviewer, outcome=AlertOutcome.APPROPRIATE)
        reviewed = {a.alert_id: a for a in list_alerts(con)}[d.alert_id]
        open_ids = {a.alert_id for a in list_alerts(con, open_only=True)}
    assert reviewed.status == "reviewed" and reviewed.reviewed_by == dsl
    assert reviewed.review_outcome == "inappropriate"
    assert d.alert_id not in open_ids and own.alert_id in open_ids
    # the decision to review is governed too: a teacher is refused, the DSL allowed
    for actor_id, allowed in ((teacher, False), (dsl, True)):
        verdict = decide(
            node=district,
            actor=actor_id,
            action=Action.REVIEW_ALERT,
            resource=Resource(kind=ResourceKind.REGISTER, name=own.alert_id),
            purpose=None,
            today=TODAY,
        )
        assert verdict.allowed is allowed
