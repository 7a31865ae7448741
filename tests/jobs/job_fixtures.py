"""A small simulated district node with actors and projects for the job tests, built once per
test process: a researcher on an active jobs project, one who is not on it, two DAC members
(one lay), two output checkers; plus a project the DAC has not approved, an active project
pinned to a cohort (girls with a GP event), and an active project approved before cohorts were
pinned (its cohort cleared, as a migrated governance database holds it)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from joinedup.config import NodeSettings, load_node
from joinedup.govern import LOCAL_OPERATOR, Actor, Organisation, OrgKind, Role
from joinedup.govern.actors import add_actor
from joinedup.govern.cohort import WHOLE_POPULATION, CohortSpec, parse_cohort
from joinedup.govern.database import open_govern
from joinedup.govern.projects import (
    ProjectSpec,
    Review,
    Setting,
    apply_project,
    countersign_project,
    review_project,
)
from joinedup.ingest import ingest_dir, init_node
from joinedup.link import refresh_node
from joinedup.link.deterministic import DeterministicStage
from joinedup.model import Purpose
from joinedup.simulate import SimulationSpec, simulate_district

TODAY = datetime.now(UTC).date()
PEOPLE = 600
SEED = 11
PERSON_VIEW = "view__secondary__person"
EVENT_VIEW = "view__secondary__gp_event"
APPROVED = ("sex", "imd_decile", "n_records", "birth_month")
EVENT_APPROVED = ("event_date", "snomed_concept_id")
COHORT = parse_cohort(
    {"all": [{"sex": ["F"]}, {"has_event": {"table": "gp_event", "from": "2020-01-01"}}]}
)

UNI = Organisation(org_id="uni", kind=OrgKind.VCSE, name="a university")
NODE_ORG = Organisation(org_id="node", kind=OrgKind.NODE, name="this node")


def _actor(actor_id: str, role: Role, *, lay: bool = False) -> Actor:
    return Actor(
        actor_id=actor_id,
        display_name=actor_id,
        role=role,
        org=UNI if role is Role.RESEARCHER else NODE_ORG,
        accredited_until=TODAY + timedelta(days=900) if role is Role.RESEARCHER else None,
        ig_training_on=TODAY - timedelta(days=10),
        is_lay=lay,
    )


ACTORS = {
    a.actor_id: a
    for a in (
        _actor("res-1", Role.RESEARCHER),
        _actor("res-2", Role.RESEARCHER),
        _actor("dac-lay", Role.DAC_MEMBER, lay=True),
        _actor("dac-1", Role.DAC_MEMBER),
        _actor("checker-1", Role.OUTPUT_CHECKER),
        _actor("checker-2", Role.OUTPUT_CHECKER),
    )
}


def _spec(title: str, cohort: CohortSpec = WHOLE_POPULATION) -> ProjectSpec:
    return ProjectSpec(
        title=title,
        purpose=Purpose.RESEARCH,
        members=("res-1",),
        lay_summary="How do children's records differ by sex and deprivation?",
        public_benefit="Better planning of services.",
        legal_basis="6(1)(e)+9(2)(j)+s251",
        datasets=(PERSON_VIEW, EVENT_VIEW),
        variables=(
            *(f"{PERSON_VIEW}.{c}" for c in APPROVED),
            *(f"{EVENT_VIEW}.{c}" for c in EVENT_APPROVED),
        ),
        cohort="every child in the district"
        if cohort.is_whole_population
        else "girls seen by a GP",
        cohort_spec=cohort,
        setting=Setting.JOBS,
        outputs="counts and means by sex, checked before release",
        expires_on=TODAY + timedelta(days=180),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class JobNode:
    settings: NodeSettings
    project_id: str  # active: DAC-approved, countersigned, in date, names res-1
    unapproved_id: str  # applied only
    cohort_id: str  # active, pinned to COHORT
    legacy_id: str  # active, approved before cohorts were pinned (no cohort spec)


_BUILT: dict[str, Path] = {}


def _build() -> Path:
    base = Path(tempfile.mkdtemp(prefix="jobs-district-"))
    atexit.register(shutil.rmtree, base, True)
    extracts = base / "extracts"
    simulate_district(SimulationSpec(people=PEOPLE, seed=SEED, as_of=date(2026, 8, 31)), extracts)
    built = init_node(base / "node", name="jobs district")
    ingest_dir(built, extracts, today=date(2026, 8, 31))
    refresh_node(built, stages=(DeterministicStage(),))
    return built.root


def job_node(into: Path) -> JobNode:
    """A fresh copy of the simulated district with the actors and two projects."""
    if "node" not in _BUILT:
        _BUILT["node"] = _build()
    target = into / "node"
    shutil.copytree(_BUILT["node"], target)
    settings = load_node(target)
    with open_govern(settings) as con:
        for actor in ACTORS.values():
            add_actor(con, actor)
        active, cohort, legacy = (
            apply_project(
                con,
                _spec(title, spec_cohort),
                applicant=ACTORS["res-1"],
                members=[ACTORS["res-1"]],
                today=TODAY,
            )
            for title, spec_cohort in (
                ("Records by sex", WHOLE_POPULATION),
                ("Girls seen by a GP", COHORT),
                ("Approved before cohorts", WHOLE_POPULATION),
            )
        )
        for project in (active, cohort, legacy):
            for reviewer in ("dac-lay", "dac-1"):
                review_project(
                    con,
                    project.project_id,
                    reviewer=ACTORS[reviewer],
                    decision=Review.APPROVE,
                    today=TODAY,
                )
            countersign_project(con, project.project_id, signer=LOCAL_OPERATOR, today=TODAY)
        con.execute(
            "UPDATE govern__projects SET cohort_spec = NULL, cohort_sha256 = NULL "
            "WHERE project_id = ?",
            [legacy.project_id],
        )
        pending = apply_project(
            con,
            _spec("Not yet approved"),
            applicant=ACTORS["res-1"],
            members=[ACTORS["res-1"]],
            today=TODAY,
        )
    return JobNode(
        settings=settings,
        project_id=active.project_id,
        unapproved_id=pending.project_id,
        cohort_id=cohort.project_id,
        legacy_id=legacy.project_id,
    )


def write_job(
    folder: Path,
    project_id: str,
    code: str,
    *,
    columns: tuple[str, ...] = ("sex", "n_records"),
    limits: str = "",
    event_columns: tuple[str, ...] = (),
) -> Path:
    """A job folder: job.toml declaring ``columns`` of the person view (and ``event_columns``
    of the GP event view, if any), and analysis.py."""
    folder.mkdir(parents=True, exist_ok=True)
    cols = ", ".join(f'"{c}"' for c in columns)
    toml = f'project = "{project_id}"\nentry = "analysis.py"\n\n[views]\n{PERSON_VIEW} = [{cols}]\n'
    if event_columns:
        toml += f"{EVENT_VIEW} = [{', '.join(f'{chr(34)}{c}{chr(34)}' for c in event_columns)}]\n"
    if limits:
        toml += f"\n[limits]\n{limits}\n"
    (folder / "job.toml").write_text(toml, encoding="utf-8")
    (folder / "analysis.py").write_text(textwrap.dedent(code), encoding="utf-8")
    return folder
