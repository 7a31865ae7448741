"""Consent to contact: the levels, who may give it, the re-consent at 16, and that ``decide``
never releases a child's identity for contact without it (on a simulated district's store)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest
from govern_fixtures import TODAY

from joinedup.config import NodeSettings
from joinedup.errors import UsageError
from joinedup.govern import (
    LOCAL_OPERATOR,
    Action,
    Actor,
    Decision,
    Organisation,
    OrgKind,
    Resource,
    ResourceKind,
    Role,
    decide,
)
from joinedup.govern.actors import add_actor
from joinedup.govern.cohort import WHOLE_POPULATION
from joinedup.govern.consent import (
    ConsentLevel,
    ConsentRecord,
    ContactPermission,
    GivenBy,
    judge_consent,
    record_consent,
    sixteenth_birthday_month,
)
from joinedup.govern.database import open_govern
from joinedup.govern.identify import ChildKey, identify_child
from joinedup.govern.projects import (
    Project,
    ProjectSpec,
    Review,
    Setting,
    apply_project,
    countersign_project,
    review_project,
)
from joinedup.model import DataLevel, Purpose

RESEARCHER = Actor(
    actor_id="res-contact",
    display_name="a researcher",
    role=Role.RESEARCHER,
    org=Organisation(org_id="uni", kind=OrgKind.VCSE, name="a university"),
    accredited_until=date(2028, 12, 31),
    ig_training_on=TODAY - timedelta(days=10),
)
NODE = Organisation(org_id="node", kind=OrgKind.NODE, name="this node")
DAC = (
    Actor(actor_id="dac-a", display_name="a", role=Role.DAC_MEMBER, org=NODE, is_lay=True),
    Actor(actor_id="dac-b", display_name="b", role=Role.DAC_MEMBER, org=NODE),
)
DATASET = "view__secondary__person"


def _record(
    level: ConsentLevel, given_by: GivenBy, on: date, birth_month: str = "2012-05"
) -> ConsentRecord:
    return ConsentRecord(
        consent_id=f"C{on:%Y%m%d}{level.value}",
        birth_month=birth_month,
        level=level,
        given_by=given_by,
        information_sheet_version="v2",
        recorded_by="x",
        recorded_on=on,
        recorded_at=datetime(on.year, on.month, on.day, 12),
    )


@pytest.mark.parametrize(
    ("level", "permission"),
    [
        (ConsentLevel.GREEN, ContactPermission.DIRECT),
        (ConsentLevel.AMBER, ContactPermission.VIA_CARE_TEAM),
        (ConsentLevel.RED, ContactPermission.NONE),
    ],
)
def test_levels(level: ConsentLevel, permission: ContactPermission) -> None:
    answer = judge_consent([_record(level, GivenBy.PARENT, TODAY)], TODAY)
    assert answer.permission is permission


def test_no_record_means_no_contact() -> None:
    assert judge_consent([], TODAY).permission is ContactPermission.NONE


def test_the_latest_record_wins() -> None:
    green = _record(ConsentLevel.GREEN, GivenBy.PARENT, TODAY - timedelta(days=5))
    red = _record(ConsentLevel.RED, GivenBy.PARENT, TODAY)
    assert judge_consent([red, green], TODAY).permission is ContactPermission.NONE
    again = _record(ConsentLevel.AMBER, GivenBy.PARENT, TODAY + timedelta(days=1))
    later = TODAY + timedelta(days=2)
    assert judge_consent([green, red, again], later).permission is ContactPermission.VIA_CARE_TEAM


def test_a_parents_consent_lapses_at_16_and_the_young_person_re_consents() -> None:
    born = "2010-09"
    lapse = sixteenth_birthday_month(born)
    assert lapse == date(2026, 9, 1)
    parent = _record(ConsentLevel.GREEN, GivenBy.PARENT, date(2020, 1, 1), born)
    assert judge_consent([parent], lapse - timedelta(days=1)).permission is (
        ContactPermission.DIRECT
    )
    lapsed = judge_consent([parent], lapse)
    assert lapsed.permission is ContactPermission.NONE and "re-consent" in lapsed.why
    own = _record(ConsentLevel.GREEN, GivenBy.YOUNG_PERSON, lapse, born)
    assert judge_consent([parent, own], lapse).permission is ContactPermission.DIRECT


def _key(age: int) -> ChildKey:
    return ChildKey(
        namespace="nhs_dob",
        subject_key="0" * 32,
        birth_month="2010-01",
        identified_by="nhs_number",
        age_years=age,
    )


@pytest.mark.parametrize(
    ("age", "given_by", "allowed"),
    [
        (12, GivenBy.PARENT, True),
        (12, GivenBy.YOUNG_PERSON, False),
        (13, GivenBy.YOUNG_PERSON, True),
        (15, GivenBy.PARENT, True),
        (16, GivenBy.PARENT, False),
        (16, GivenBy.YOUNG_PERSON, True),
    ],
)
def test_who_may_consent(node: NodeSettings, age: int, given_by: GivenBy, allowed: bool) -> None:
    with open_govern(node) as con:
        before = con.execute("SELECT count(*) FROM govern__consent").fetchone()
        if allowed:
            record_consent(
                con,
                _key(age),
                level=ConsentLevel.GREEN,
                given_by=given_by,
                information_sheet_version="v2",
                actor=LOCAL_OPERATOR,
                today=TODAY,
            )
        else:
            with pytest.raises(UsageError):
                record_consent(
                    con,
                    _key(age),
                    level=ConsentLevel.GREEN,
                    given_by=given_by,
                    information_sheet_version="v2",
                    actor=LOCAL_OPERATOR,
                    today=TODAY,
                )
        after = con.execute("SELECT count(*) FROM govern__consent").fetchone()
    assert before is not None and after is not None
    assert after[0] - before[0] == (1 if allowed else 0)


# --- contact through decide, on real store data ---------------------------------------------


def _children(node: NodeSettings, n: int) -> list[tuple[str, date, str]]:
    """(NHS number, date of birth, person id) of under-13 children, read from the vault."""
    con = duckdb.connect(str(node.store_path), read_only=True)
    try:
        con.execute(f"ATTACH '{node.vault_path}' AS vault (READ_ONLY)")
        rows = con.execute(
            "SELECT i.nhs_number, i.date_of_birth, min(rp.person_id) "
            "FROM vault.vault__identities i "
            "JOIN link__record_person rp ON rp.record_key = i.record_key "
            "WHERE i.nhs_number IS NOT NULL AND i.date_of_birth > ? "
            "GROUP BY ALL HAVING count(DISTINCT rp.person_id) = 1 ORDER BY 1, 2 LIMIT ?",
            [date(TODAY.year - 12, 1, 1), n],
        ).fetchall()
    finally:
        con.close()
    return [(str(a), b, str(c)) for a, b, c in rows]


@pytest.fixture(scope="module")
def contact_project(district: NodeSettings) -> Project:
    spec = ProjectSpec(
        title="Follow-up of families in the cohort",
        purpose=Purpose.RESEARCH,
        members=(RESEARCHER.actor_id,),
        lay_summary="We will invite consenting families to an interview.",
        public_benefit="Understanding what helps.",
        legal_basis="6(1)(e)+9(2)(j)+consent",
        datasets=(DATASET,),
        variables=(f"{DATASET}.sex",),
        cohort="families who consented to contact",
        cohort_spec=WHOLE_POPULATION,
        setting=Setting.JOBS,
        outputs="themes from interviews",
        expires_on=TODAY + timedelta(days=365),
    )
    with open_govern(district) as con:
        for actor in (RESEARCHER, *DAC):
            add_actor(con, actor)
        project = apply_project(con, spec, applicant=RESEARCHER, members=[RESEARCHER], today=TODAY)
        for member in DAC:
            review_project(
                con, project.project_id, reviewer=member, decision=Review.APPROVE, today=TODAY
            )
        countersign_project(con, project.project_id, signer=LOCAL_OPERATOR, today=TODAY)
    return project


def _contact(
    node: NodeSettings, person_id: str, project_id: str | None, actor: str = RESEARCHER.actor_id
) -> Decision:
    return decide(
        node=node,
        actor=actor,
        action=Action.CONTACT,
        resource=Resource(
            kind=ResourceKind.PERSON,
            name="person",
            level=DataLevel.L0_IDENTIFIABLE,
            person_id=person_id,
        ),
        purpose=Purpose.RESEARCH,
        project_id=project_id,
        today=TODAY,
    )


def _consent(node: NodeSettings, nhs: str, dob: date, level: ConsentLevel) -> None:
    child = identify_child(node, date_of_birth=dob, today=TODAY, nhs_number=nhs)
    with open_govern(node) as con:
        record_consent(
            con,
            child,
            level=level,
            given_by=GivenBy.PARENT,
            information_sheet_version="v2",
            actor=LOCAL_OPERATOR,
            today=TODAY,
        )


def test_identity_is_never_released_for_contact_without_consent(
    district: NodeSettings, contact_project: Project
) -> None:
    (nhs, dob, person), (_, _, other) = _children(district, 2)
    d = _contact(district, person, contact_project.project_id)
    assert not d.allowed and "no consent to contact" in d.reason
    _consent(district, nhs, dob, ConsentLevel.GREEN)
    released = _contact(district, person, contact_project.project_id)
    assert released.allowed and "direct" in released.reason and released.rule.endswith("=C")
    # consent for one child releases no other child
    assert not _contact(district, other, contact_project.project_id).allowed
    # without the project, or by anyone but a researcher, consent alone releases nothing
    assert not _contact(district, person, None).allowed
    for role in (Role.NODE_ANALYST, Role.GP, Role.DSL):
        assert not _contact(district, person, contact_project.project_id, f"a-{role.value}").allowed


def test_amber_goes_through_the_care_team_and_red_refuses(
    district: NodeSettings, contact_project: Project
) -> None:
    (nhs_a, dob_a, amber), (nhs_r, dob_r, red) = _children(district, 4)[2:4]
    _consent(district, nhs_a, dob_a, ConsentLevel.AMBER)
    d = _contact(district, amber, contact_project.project_id)
    assert d.allowed and "via_care_team" in d.reason
    _consent(district, nhs_r, dob_r, ConsentLevel.GREEN)
    _consent(district, nhs_r, dob_r, ConsentLevel.RED)  # withdrawn: the latest wins
    refused = _contact(district, red, contact_project.project_id)
    assert not refused.allowed and "red" in refused.reason
