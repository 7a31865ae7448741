"""The project lifecycle, decided for real: apply, DAC review (quorum and a lay member),
countersignature, then access; and every way a project falls short is refused everywhere."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

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
from joinedup.govern.database import open_govern
from joinedup.govern.policy import MATRIX, Verdict
from joinedup.govern.projects import (
    Project,
    ProjectSpec,
    ProjectState,
    Review,
    Setting,
    apply_project,
    countersign_project,
    project_status,
    review_project,
)
from joinedup.model import DataLevel, Purpose

UNI = Organisation(org_id="uni", kind=OrgKind.VCSE, name="a university")
NODE = Organisation(org_id="node", kind=OrgKind.NODE, name="this node")
TRAINED = TODAY - timedelta(days=30)


def _person(actor_id: str, role: Role, **extra: object) -> Actor:
    base = Actor(
        actor_id=actor_id,
        display_name=actor_id,
        role=role,
        org=UNI if role is Role.RESEARCHER else NODE,
        accredited_until=date(2028, 12, 31) if role is Role.RESEARCHER else None,
        ig_training_on=TRAINED,
    )
    return replace(base, **extra)  # type: ignore[arg-type]


ACTORS = {
    a.actor_id: a
    for a in (
        _person("res-1", Role.RESEARCHER),
        _person("res-2", Role.RESEARCHER),  # not a member of any project
        _person("res-lapsing", Role.RESEARCHER, accredited_until=TODAY + timedelta(days=60)),
        _person("dac-lay", Role.DAC_MEMBER, is_lay=True),
        _person("dac-1", Role.DAC_MEMBER),
        _person("dac-2", Role.DAC_MEMBER),
        _person("analyst-1", Role.NODE_ANALYST),
    )
}
DATASET = "view__secondary__person"
SPEC = ProjectSpec(
    title="Early language and later attainment",
    purpose=Purpose.RESEARCH,
    members=("res-1", "res-lapsing"),
    lay_summary="Do children who talk later do less well at school?",
    public_benefit="Better targeting of speech and language support.",
    legal_basis="6(1)(e)+9(2)(j)+s251",
    datasets=(DATASET,),
    variables=(f"{DATASET}.sex", f"{DATASET}.birth_month"),
    cohort="children born 2015-2020",
    cohort_spec=WHOLE_POPULATION,
    setting=Setting.JOBS,
    outputs="odds ratios by sex, checked before release",
    expires_on=TODAY + timedelta(days=365),
)


@pytest.fixture(scope="module")
def lifecycle_node(node: NodeSettings) -> NodeSettings:
    with open_govern(node) as con:
        for actor in ACTORS.values():
            add_actor(con, actor)
    return node


def _apply(node: NodeSettings, spec: ProjectSpec = SPEC) -> Project:
    with open_govern(node) as con:
        return apply_project(
            con,
            spec,
            applicant=ACTORS[spec.members[0]],
            members=[ACTORS[m] for m in spec.members],
            today=TODAY,
        )


def _review(node: NodeSettings, project: Project, reviewer: str, decision: Review) -> ProjectState:
    with open_govern(node) as con:
        return review_project(
            con,
            project.project_id,
            reviewer=ACTORS[reviewer],
            decision=decision,
            conditions="publish the code" if decision is Review.CONDITIONS else None,
            today=TODAY,
        ).state


def _countersign(node: NodeSettings, project: Project) -> ProjectState:
    with open_govern(node) as con:
        return countersign_project(
            con, project.project_id, signer=LOCAL_OPERATOR, today=TODAY
        ).state


def _active(node: NodeSettings, spec: ProjectSpec = SPEC) -> Project:
    project = _apply(node, spec)
    _review(node, project, "dac-lay", Review.APPROVE)
    _review(node, project, "dac-1", Review.CONDITIONS)
    assert _countersign(node, project) is ProjectState.ACTIVE
    return project


def _use(
    node: NodeSettings,
    project: Project,
    *,
    actor: str = "res-1",
    action: Action = Action.READ,
    purpose: Purpose = Purpose.RESEARCH,
    level: DataLevel = DataLevel.L2_AGGREGATE,
    columns: tuple[str, ...] = ("sex",),
    today: date = TODAY,
) -> Decision:
    return decide(
        node=node,
        actor=actor,
        action=action,
        resource=Resource(kind=ResourceKind.TABLE, name=DATASET, level=level, columns=columns),
        purpose=purpose,
        project_id=project.project_id,
        today=today,
    )


def test_apply_review_countersign_then_allowed(lifecycle_node: NodeSettings) -> None:
    project = _apply(lifecycle_node)
    assert not _use(lifecycle_node, project).allowed  # applied: awaiting the DAC
    assert _review(lifecycle_node, project, "dac-1", Review.APPROVE) is ProjectState.APPLIED
    partly = _use(lifecycle_node, project)
    assert not partly.allowed and "partly signed" in partly.reason
    assert _review(lifecycle_node, project, "dac-lay", Review.CONDITIONS) is (
        ProjectState.DAC_APPROVED
    )
    unsigned = _use(lifecycle_node, project)
    assert not unsigned.allowed and "countersignature" in unsigned.reason
    assert _countersign(lifecycle_node, project) is ProjectState.ACTIVE
    allowed = _use(lifecycle_node, project)
    assert allowed.allowed and allowed.event.project_id == project.project_id
    job = _use(lifecycle_node, project, action=Action.RUN_JOB, level=DataLevel.L1_PSEUDONYMISED)
    assert job.allowed and job.rule.endswith("=J")
    # L1 records reach a researcher only as a job: the double lock
    direct = _use(lifecycle_node, project, level=DataLevel.L1_PSEUDONYMISED)
    assert not direct.allowed and "double lock" in direct.reason
    with open_govern(lifecycle_node) as con:
        status = project_status(con, project.project_id, TODAY)
        with pytest.raises(UsageError, match="review is closed"):
            review_project(
                con,
                project.project_id,
                reviewer=ACTORS["dac-2"],
                decision=Review.REJECT,
                today=TODAY,
            )
    assert status.conditions == ("publish the code",)


def test_quorum_without_a_lay_member_is_not_approval(lifecycle_node: NodeSettings) -> None:
    project = _apply(lifecycle_node)
    _review(lifecycle_node, project, "dac-1", Review.APPROVE)
    assert _review(lifecycle_node, project, "dac-2", Review.APPROVE) is ProjectState.APPLIED
    with pytest.raises(UsageError, match="cannot be countersigned"):
        _countersign(lifecycle_node, project)
    d = _use(lifecycle_node, project)
    assert not d.allowed and "lay member" in d.reason


def test_one_rejection_rejects(lifecycle_node: NodeSettings) -> None:
    project = _apply(lifecycle_node)
    _review(lifecycle_node, project, "dac-lay", Review.APPROVE)
    _review(lifecycle_node, project, "dac-1", Review.APPROVE)
    assert _review(lifecycle_node, project, "dac-2", Review.REJECT) is ProjectState.REJECTED
    with pytest.raises(UsageError, match="rejected"):
        _countersign(lifecycle_node, project)
    assert "rejected" in _use(lifecycle_node, project).reason


def test_a_member_changing_their_review_counts_once(lifecycle_node: NodeSettings) -> None:
    project = _apply(lifecycle_node)
    _review(lifecycle_node, project, "dac-1", Review.REJECT)
    _review(lifecycle_node, project, "dac-1", Review.APPROVE)  # latest review counts
    assert _review(lifecycle_node, project, "dac-lay", Review.APPROVE) is (
        ProjectState.DAC_APPROVED
    )


def test_only_the_node_countersigns_and_only_the_dac_reviews(lifecycle_node: NodeSettings) -> None:
    project = _apply(lifecycle_node)
    with open_govern(lifecycle_node) as con, pytest.raises(UsageError, match="not a DAC member"):
        review_project(
            con,
            project.project_id,
            reviewer=ACTORS["res-1"],
            decision=Review.APPROVE,
            today=TODAY,
        )
    _review(lifecycle_node, project, "dac-lay", Review.APPROVE)
    _review(lifecycle_node, project, "dac-1", Review.APPROVE)
    with (
        open_govern(lifecycle_node) as con,
        pytest.raises(UsageError, match="not a node administrator"),
    ):
        countersign_project(con, project.project_id, signer=ACTORS["dac-1"], today=TODAY)
    for actor, action, allowed in (
        ("dac-1", Action.COUNTERSIGN_PROJECT, False),
        ("local-operator", Action.COUNTERSIGN_PROJECT, True),
        ("res-1", Action.REVIEW_PROJECT, False),
        ("dac-lay", Action.REVIEW_PROJECT, True),
        ("dac-lay", Action.APPLY_PROJECT, False),
        ("res-1", Action.APPLY_PROJECT, True),
    ):
        d = decide(
            node=lifecycle_node,
            actor=actor,
            action=action,
            resource=Resource(kind=ResourceKind.PROJECT, name=project.project_id),
            purpose=None,
            today=TODAY,
        )
        assert d.allowed is allowed, (actor, action)


def test_an_expired_project_is_refused(lifecycle_node: NodeSettings) -> None:
    short = replace(SPEC, expires_on=TODAY + timedelta(days=90))
    project = _active(lifecycle_node, short)
    last_day = short.expires_on
    assert _use(lifecycle_node, project, today=last_day).allowed
    d = _use(lifecycle_node, project, today=last_day + timedelta(days=1))
    assert not d.allowed and "expired" in d.reason


def test_the_wrong_purpose_is_refused(lifecycle_node: NodeSettings) -> None:
    project = _active(lifecycle_node)
    d = _use(lifecycle_node, project, purpose=Purpose.EVALUATION)
    assert not d.allowed and "is for research, not evaluation" in d.reason


def test_a_non_member_is_refused(lifecycle_node: NodeSettings) -> None:
    project = _active(lifecycle_node)
    d = _use(lifecycle_node, project, actor="res-2")
    assert not d.allowed and "not a member" in d.reason


def test_stale_training_or_lapsed_accreditation_is_refused_at_access(
    lifecycle_node: NodeSettings,
) -> None:
    project = _active(lifecycle_node)
    stale_day = TRAINED + timedelta(days=366)  # the project is still in date
    assert stale_day <= SPEC.expires_on
    d = _use(lifecycle_node, project, today=stale_day)
    assert not d.allowed and "information-governance training" in d.reason
    lapsed_day = TODAY + timedelta(days=61)
    assert _use(lifecycle_node, project, today=lapsed_day).allowed  # res-1 still accredited
    d = _use(lifecycle_node, project, actor="res-lapsing", today=lapsed_day)
    assert not d.allowed and "accreditation" in d.reason


def test_only_the_projects_datasets_and_variables(lifecycle_node: NodeSettings) -> None:
    project = _active(lifecycle_node)
    outside = _use(lifecycle_node, project, columns=("sex", "ethnicity"))
    assert not outside.allowed and "ethnicity" in outside.reason
    unnamed = _use(lifecycle_node, project, columns=())
    assert not unnamed.allowed and "minimum variables" in unnamed.reason
    other = decide(
        node=lifecycle_node,
        actor="res-1",
        action=Action.READ,
        resource=Resource(
            kind=ResourceKind.TABLE,
            name="view__secondary__enrolment",
            level=DataLevel.L2_AGGREGATE,
            columns=("urn",),
        ),
        purpose=Purpose.RESEARCH,
        project_id=project.project_id,
        today=TODAY,
    )
    assert not other.allowed and "not among" in other.reason


PROJECT_CELLS = [
    (role, purpose, level)
    for (role, purpose, level), verdict in MATRIX.items()
    if verdict in (Verdict.PROJECT, Verdict.JOB)
]


def test_a_project_short_of_active_is_refused_in_every_project_cell(
    lifecycle_node: NodeSettings,
) -> None:
    partly = _apply(lifecycle_node)
    _review(lifecycle_node, partly, "dac-lay", Review.APPROVE)
    unsigned = _apply(lifecycle_node)
    _review(lifecycle_node, unsigned, "dac-lay", Review.APPROVE)
    _review(lifecycle_node, unsigned, "dac-2", Review.APPROVE)
    for project in (partly, unsigned):
        for role, purpose, level in PROJECT_CELLS:
            actor = "res-1" if role is Role.RESEARCHER else "analyst-1"
            if role not in (Role.RESEARCHER, Role.NODE_ANALYST):
                continue
            action = (
                Action.RUN_JOB if MATRIX[(role, purpose, level)] is Verdict.JOB else (Action.READ)
            )
            d = _use(
                lifecycle_node, project, actor=actor, action=action, purpose=purpose, level=level
            )
            assert not d.allowed, (role, purpose, level)
            assert d.event.outcome == "deny"


def test_an_incomplete_application_lists_every_unmet_safe(lifecycle_node: NodeSettings) -> None:
    bad = replace(
        SPEC,
        purpose=Purpose.RESEARCH,
        legal_basis="because",
        datasets=("store__person",),
        variables=("store__person.sex",),
        setting=Setting.NODE,
        public_benefit=" ",
    )
    with pytest.raises(UsageError) as caught:
        _apply(lifecycle_node, bad)
    text = str(caught.value)
    for expected in (
        "legal basis",
        "not a secondary view",
        "jobs or the synthetic twin",
        "public benefit is empty",
    ):
        assert expected in text
    stale = _person("res-stale", Role.RESEARCHER, ig_training_on=TODAY - timedelta(days=400))
    with open_govern(lifecycle_node) as con:
        add_actor(con, stale)
        with pytest.raises(UsageError, match="information-governance training"):
            apply_project(
                con,
                replace(SPEC, members=("res-stale",)),
                applicant=stale,
                members=[stale],
                today=TODAY,
            )


def test_intended_outputs_and_minimum_data_are_stated_from_the_outset(
    lifecycle_node: NodeSettings,
) -> None:
    # safe outputs and safe data are part of the application, not settled later
    bare = replace(SPEC, outputs="  ", variables=(), cohort="", cohort_spec=None)
    with pytest.raises(UsageError) as caught:
        _apply(lifecycle_node, bare)
    text = str(caught.value)
    for expected in (
        "outputs is empty",
        "list the minimum variables",
        "cohort is empty",
        "give the cohort spec",  # the cohort itself, pinned: no default of everyone
    ):
        assert expected in text
    with open_govern(lifecycle_node) as con:
        assert con.execute(
            "SELECT count(*) FROM govern__projects WHERE outputs = '  '"
        ).fetchone() == (0,)
    stated = _apply(lifecycle_node, replace(SPEC, title="Outputs stated"))
    assert stated.spec.outputs == SPEC.outputs and stated.spec.outputs.strip()


def test_a_projects_setting_is_its_security_tier(lifecycle_node: NodeSettings) -> None:
    # the same researcher, the same data, three projects approved for three settings: only
    # the jobs setting lets record-level (L1) code run, the synthetic setting never reaches L1
    # and research is never allowed the node setting (record-level access by hand)
    def job(project: Project, purpose: Purpose = Purpose.RESEARCH) -> Decision:
        return _use(
            lifecycle_node,
            project,
            action=Action.RUN_JOB,
            purpose=purpose,
            level=DataLevel.L1_PSEUDONYMISED,
        )

    jobs = _active(lifecycle_node, replace(SPEC, setting=Setting.JOBS))
    assert job(jobs).allowed
    synthetic = _active(lifecycle_node, replace(SPEC, setting=Setting.SYNTHETIC))
    refused = job(synthetic)
    assert not refused.allowed and "does not run jobs (its setting is synthetic)" in refused.reason
    assert _use(lifecycle_node, synthetic, level=DataLevel.L3_SYNTHETIC).allowed
    evaluation = replace(
        SPEC, purpose=Purpose.EVALUATION, legal_basis="6(1)(e)+9(2)(h)", setting=Setting.NODE
    )
    at_node = _active(lifecycle_node, evaluation)
    no_jobs = job(at_node, Purpose.EVALUATION)
    assert not no_jobs.allowed and "does not run jobs" in no_jobs.reason
    with pytest.raises(UsageError, match="jobs or the synthetic twin"):
        _apply(lifecycle_node, replace(SPEC, setting=Setting.NODE))
