"""The transparency register is generated from the project register: approved (DAC-approved and
countersigned) projects only, in force or ended; never a pending, partly signed, unsigned or
rejected application; no actor and no person in it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from govern_fixtures import TODAY

from joinedup.cli.main import main
from joinedup.govern import LOCAL_OPERATOR, Action, Actor, Organisation, OrgKind, Role
from joinedup.govern.actors import add_actor
from joinedup.govern.cohort import WHOLE_POPULATION
from joinedup.govern.database import open_govern
from joinedup.govern.projects import (
    ProjectSpec,
    Review,
    Setting,
    apply_project,
    countersign_project,
    record_release,
    review_project,
)
from joinedup.govern.transparency import REGISTER_VERSION, build_register, register_json
from joinedup.ingest import init_node
from joinedup.model import Purpose

ORG = Organisation(org_id="la", kind=OrgKind.NODE, name="the node")
ANALYST = Actor(
    actor_id="analyst-zq",
    display_name="Zebedee Quill",
    role=Role.NODE_ANALYST,
    org=ORG,
    ig_training_on=TODAY - timedelta(days=20),
)
LAY = Actor(
    actor_id="lay-zq", display_name="Lay Member", role=Role.DAC_MEMBER, org=ORG, is_lay=True
)
DAC = Actor(actor_id="dac-zq", display_name="DAC Member", role=Role.DAC_MEMBER, org=ORG)
DATASET = "view__secondary__enrolment"
SPEC = ProjectSpec(
    title="School places forecast",
    purpose=Purpose.PLANNING,
    members=(ANALYST.actor_id,),
    lay_summary="How many school places will be needed in five years?",
    public_benefit="Enough places, built in time.",
    legal_basis="6(1)(e)+9(2)(h)",
    datasets=(DATASET,),
    variables=(f"{DATASET}.ncyear",),
    cohort="pupils on roll",
    cohort_spec=WHOLE_POPULATION,
    setting=Setting.NODE,
    outputs="counts by year group, rounded",
    expires_on=TODAY + timedelta(days=365),
)


def test_the_register_lists_approved_projects_only(tmp_path: Path) -> None:
    node = init_node(tmp_path / "node", name="transparency")
    with open_govern(node) as con:
        for actor in (ANALYST, LAY, DAC):
            add_actor(con, actor)

        def apply(title: str) -> str:
            spec = replace(SPEC, title=title)
            return apply_project(
                con, spec, applicant=ANALYST, members=[ANALYST], today=TODAY
            ).project_id

        def review(pid: str, member: Actor, decision: Review) -> None:
            review_project(
                con,
                pid,
                reviewer=member,
                decision=decision,
                conditions="round to 5" if decision is Review.CONDITIONS else None,
                today=TODAY,
            )

        pending = apply("Pending application")
        review(pending, DAC, Review.APPROVE)  # partly signed: not yet public
        active = apply("Approved and countersigned")
        review(active, LAY, Review.CONDITIONS)
        review(active, DAC, Review.APPROVE)
        countersign_project(con, active, signer=LOCAL_OPERATOR, today=TODAY)
        record_release(con, active, "places-by-year-group.csv", TODAY + timedelta(days=7))
        awaiting = apply("Approved, awaiting countersignature")
        review(awaiting, LAY, Review.APPROVE)
        review(awaiting, DAC, Review.APPROVE)
        rejected = apply("Rejected application")
        review(rejected, LAY, Review.REJECT)

        register = build_register(con, TODAY)
        text = register_json(con, TODAY)

        # a year and a day later the approved project has ended: still listed, as expired
        later = build_register(con, SPEC.expires_on + timedelta(days=1))

    assert json.loads(text) == register
    assert register["version"] == REGISTER_VERSION and register["generated_on"] == "2026-08-31"
    entries = {e["project_id"]: e for e in register["projects"]}  # type: ignore[attr-defined]
    assert set(entries) == {active}
    for title in ("Pending application", "awaiting countersignature", "Rejected application"):
        assert title not in text
    for unpublished in (pending, awaiting, rejected):
        assert unpublished not in text
    shown = entries[active]
    assert shown["state"] == "active" and shown["datasets"] == [DATASET]
    assert shown["purpose"] == "planning" and shown["legal_basis"] == SPEC.legal_basis
    assert shown["conditions"] == ["round to 5"] and shown["opt_outs_applied"] is True
    assert shown["outputs_released"] == [
        {"output": "places-by-year-group.csv", "released_on": "2026-09-07"}
    ]
    assert shown["applied_on"] == "2026-08-31" and shown["expires_on"] == "2027-08-31"
    assert shown["dac_decision_on"] == datetime.now(UTC).date().isoformat()  # reviewed now
    assert shown["countersigned_on"] == datetime.now(UTC).date().isoformat()  # signed now
    assert shown["lay_summary"] == SPEC.lay_summary
    ended = later["projects"]  # type: ignore[index]
    assert [(e["project_id"], e["state"]) for e in ended] == [(active, "expired")]
    # no actor is named: not the applicant, not the DAC
    for actor in (ANALYST, LAY, DAC):
        assert actor.actor_id not in text and actor.display_name not in text


def test_the_cli_writes_the_register_for_anyone(tmp_path: Path) -> None:
    node = init_node(tmp_path / "node", name="transparency")
    with open_govern(node) as con:
        add_actor(con, replace(ANALYST, actor_id="citizen-1", role=Role.CITIZEN))
    out = tmp_path / "register.json"
    args = ["project", "register", str(node.root), "--out", str(out), "--as", "citizen-1"]
    assert main(args, {}) == 0
    assert json.loads(out.read_text())["projects"] == []


def test_resolved_incidents_with_a_public_note_are_published(tmp_path: Path) -> None:
    from joinedup.errors import UsageError
    from joinedup.govern import BreakGlass, Resource, ResourceKind, decide
    from joinedup.govern.alerts import AlertOutcome, log_incident, review_alert
    from joinedup.model import DataLevel

    node = init_node(tmp_path / "node", name="transparency")
    teacher = replace(ANALYST, actor_id="teacher-zq", role=Role.TEACHER)
    with open_govern(node) as con:
        add_actor(con, teacher)
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
    note = "An export folder was readable by other staff for two days; access was closed."
    with open_govern(node) as con:
        published = log_incident(
            con, event_id="e1", reporter=LOCAL_OPERATOR, summary="export folder found open"
        )
        quiet = log_incident(
            con, event_id="e2", reporter=LOCAL_OPERATOR, summary="a printer left a page out"
        )
        still_open = log_incident(
            con, event_id="e3", reporter=LOCAL_OPERATOR, summary="odd searches, looking into it"
        )
        review_alert(
            con, published, reviewer=LOCAL_OPERATOR, outcome=AlertOutcome.RESOLVED, public_note=note
        )
        review_alert(con, quiet, reviewer=LOCAL_OPERATOR, outcome=AlertOutcome.RESOLVED)
        try:
            review_alert(
                con,
                glass.alert_id,
                reviewer=LOCAL_OPERATOR,
                outcome=AlertOutcome.APPROPRIATE,
                public_note="published?",
            )
        except UsageError as refused:
            assert "never published" in str(refused)
        else:
            raise AssertionError("a break-glass review was allowed a public note")
        register = build_register(con, TODAY)
    incidents = register["incidents"]
    today = datetime.now(UTC).date().isoformat()
    assert incidents == [
        {"kind": "incident", "raised_on": today, "resolved_on": today, "note": note}
    ]
    text = json.dumps(register)
    for private in ("export folder found open", "printer", "odd searches", "A&E", "teacher-zq"):
        assert private not in text
    assert still_open  # logged, open: not public
