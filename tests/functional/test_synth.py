"""The synthetic twin of a small refreshed district: shape, keys, timelines, no identifier or
pseudonym copied, reproducible with a seed, and a quality report whose privacy numbers would
fail for a copy of the real data."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from joinedup.cli.main import main
from joinedup.config import NodeSettings
from joinedup.ingest import ingest_dir, init_node
from joinedup.link import refresh_node
from joinedup.simulate import SimulationSpec, simulate_district
from joinedup.store.secondary import secondary_view_name
from joinedup.synth import TwinSettings, make_synthetic_twin
from joinedup.synth.quality import EFFECTS, estimate_effect, privacy_report, timeline_checks
from joinedup.synth.tables import EVENT_TABLES, PERSON_TABLE
from joinedup.synth.twin import make_twin, read_store

PEOPLE = 900
AS_OF = date(2026, 8, 31)
TABLES = [PERSON_TABLE, *(t.name for t in EVENT_TABLES)]


@dataclass(frozen=True, slots=True)
class Built:
    node: NodeSettings
    twin_dir: Path
    report: dict[str, object]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    base = tmp_path_factory.mktemp("synth")
    simulate_district(SimulationSpec(people=PEOPLE, seed=11, as_of=AS_OF), base / "extracts")
    node = init_node(base / "node", name="synth test district")
    ingest_dir(node, base / "extracts", today=AS_OF)
    refresh_node(node, method="deterministic")
    twin_dir = base / "twin"
    make_synthetic_twin(node.root / "store.duckdb", twin_dir, TwinSettings(seed=3))
    report = json.loads((twin_dir / "report.json").read_text())
    return Built(node=node, twin_dir=twin_dir, report=report)


def _store(built: Built) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(built.node.root / "store.duckdb"), read_only=True)


def _twin(built: Built) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(built.twin_dir / "twin.duckdb"), read_only=True)


def _columns(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in con.execute(f'DESCRIBE "{name}"').fetchall()]


def test_the_twin_has_the_store_shape(built: Built) -> None:
    real, twin = _store(built), _twin(built)
    for table in TABLES:
        view = secondary_view_name(table)
        assert _columns(twin, table) == _columns(real, view), table
        assert _columns(twin, view) == _columns(real, view), view
    assert _columns(twin, "store__timeline") == _columns(real, "view__secondary__timeline")
    # the same research SQL runs on either
    for spec in EFFECTS:
        assert estimate_effect(real, spec)["n"] > 0
        assert estimate_effect(twin, spec)["n"] > 0
    counts = {t: twin.execute(f'SELECT count(*) FROM "{t}"').fetchone() for t in TABLES}
    real_counts = {
        t: real.execute(f'SELECT count(*) FROM "{secondary_view_name(t)}"').fetchone()
        for t in TABLES
    }
    # every table the real district fills is filled in the twin; a table with a handful of real
    # rows (a few missing-from-care episodes in 900 children) may be drawn empty by chance
    common = [t for t, c in real_counts.items() if c is not None and c[0] >= 20]
    assert len(common) >= len(TABLES) - 3
    assert all((c := counts[t]) is not None and c[0] > 0 for t in common), (counts, real_counts)


def test_keys_and_timelines_are_consistent(built: Built) -> None:
    twin = _twin(built)
    checks = timeline_checks(twin)
    assert checks["orphan_event_rows"] == 0
    assert checks["events_before_birth_month"] == 0
    assert checks["end_before_start"] == 0
    assert checks["first_after_last_seen"] == 0
    assert checks["review_age_outside_18_42_months"] == 0
    # year group from the month of birth: as rare as in the real store (a few held back)
    assert checks["year_group_off_age"] <= max(5, 0.02 * checks["census_rows"])
    # rules that hold in every real row hold in every synthetic row
    assert twin.execute(
        "SELECT count(*) FROM store__eyfsp WHERE is_gld <> (elg_com = '2' AND elg_lau = '2' "
        "AND elg_spe = '2' AND elg_sre = '2' AND elg_mse = '2' AND elg_bre = '2' "
        "AND elg_gmo = '2' AND elg_fmo = '2' AND elg_wre = '2' AND elg_wri = '2' "
        "AND elg_num = '2' AND elg_npa = '2')"
    ).fetchone() == (0,)
    assert twin.execute(
        "SELECT count(*) FROM store__attendance WHERE is_persistent_absence <> "
        "((authorised_absence + unauthorised_absence) / sessions_possible >= 0.1)"
    ).fetchone() == (0,)
    assert twin.execute(
        "SELECT count(*) FROM store__development_check WHERE is_all_five_expected <> "
        "(domains_below = 0)"
    ).fetchone() == (0,)
    persons = twin.execute("SELECT count(*), count(DISTINCT person_id) FROM store__person")
    n, distinct = persons.fetchone() or (0, 0)
    assert n == distinct > 0


def test_no_real_identifier_or_pseudonym_is_copied(built: Built) -> None:
    real = _store(built)
    real.execute(f"ATTACH '{built.node.root / 'vault.duckdb'}' AS vault (READ_ONLY)")
    needles: set[str] = set()
    for (pid,) in real.execute("SELECT person_id FROM store__person").fetchall():
        needles.add(str(pid))
    for (key,) in real.execute("SELECT subject_key FROM vault.vault__keys").fetchall():
        needles.add(str(key))
    ident_cols = [
        "record_key", "local_id", "given_name", "family_name", "nhs_number", "upn",
        "former_upn", "postcode", "uprn", "address",
    ]  # fmt: skip
    for col in ident_cols:
        for (value,) in real.execute(
            f"SELECT DISTINCT {col} FROM vault.vault__identities WHERE {col} IS NOT NULL"
        ).fetchall():
            if len(str(value)) >= 6:
                needles.add(str(value).strip().upper())
    twin = _twin(built)
    hits: list[str] = []
    scanned = 0
    for table in TABLES:
        for name, kind in _columns(twin, table):
            if kind != "VARCHAR":
                continue
            for (value,) in twin.execute(f'SELECT DISTINCT "{name}" FROM "{table}"').fetchall():
                if value is None:
                    continue
                scanned += 1
                if str(value) in needles or str(value).strip().upper() in needles:
                    hits.append(f"{table}.{name}")  # the column, never the value
    assert scanned > 1000
    assert hits == []
    ids = [r[0] for r in twin.execute("SELECT person_id FROM store__person").fetchall()]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    # a source's own episode ids (small numbers) are replaced by fresh ones
    episodes = twin.execute("SELECT DISTINCT cin_details_id FROM store__social_care_episode")
    assert all(re.fullmatch(r"[0-9a-f]{32}", str(r[0])) for r in episodes.fetchall())


def test_same_seed_same_twin_other_seed_other_twin(
    built: Built, tmp_path_factory: pytest.TempPathFactory
) -> None:
    store = built.node.root / "store.duckdb"
    again = make_twin(store, tmp_path_factory.mktemp("again"), TwinSettings(seed=3))
    other = make_twin(store, tmp_path_factory.mktemp("other"), TwinSettings(seed=4))
    first = _twin(built)
    for table in ("store__person", "store__eyfsp", "store__gp_registration"):
        for path, equal in ((again.path, True), (other.path, False)):
            first.execute(f"ATTACH '{path}' AS cmp (READ_ONLY)")
            diff = first.execute(
                f'SELECT count(*) FROM (SELECT * FROM "{table}" EXCEPT ALL '
                f'SELECT * FROM cmp."{table}")'
            ).fetchone()
            first.execute("DETACH cmp")
            assert (diff == (0,)) is equal, (table, path)


def test_no_exact_copies_leaves_no_twin_person_equal_to_a_training_person(
    built: Built, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("strict")
    make_synthetic_twin(
        built.node.root / "store.duckdb", out, TwinSettings(seed=3, no_exact_copies=True)
    )
    report = json.loads((out / "report.json").read_text())
    assert report["provenance"]["no_exact_copies"] is True
    assert report["privacy"]["exact_copy_share"] == 0.0
    # the default removes only copies of unique persons, so common records are copied
    assert built.report["privacy"]["exact_copy_share"] > 0.0  # type: ignore[index]
    # with the same seed the default twin has copies, so the strict one had some to draw again
    assert report["provenance"]["replicated_uniques_redrawn"] > 0


def test_report_numbers_are_computed(built: Built) -> None:
    report = built.report
    summary = report["summary"]
    assert isinstance(summary, dict)
    assert 0.8 < summary["column_fidelity"] <= 1.0
    assert 0.8 < summary["pair_fidelity"] <= 1.0
    effects = report["effects"]
    assert isinstance(effects, list) and len(effects) == len(EFFECTS)
    assert all(e["real"]["odds_ratio"] and e["twin"]["odds_ratio"] for e in effects)
    privacy = report["privacy"]
    assert isinstance(privacy, dict) and privacy["evaluated"]
    assert privacy["mia_auc"] < 0.6
    assert privacy["exact_copy_share"] < 0.5
    # no twin person copies a training person who is unique in the compared fields
    assert privacy["replicated_unique_share"] == 0.0
    assert summary["replicated_unique_share"] == 0.0
    inference = privacy["attribute_inference"]
    assert {r["secret"] for r in inference} >= {"looked_after", "sen"}
    estimated = [r for r in inference if r["estimable"]]
    assert all(0 <= r["risk_ci95"][0] <= r["risk"] <= r["risk_ci95"][1] <= 1 for r in estimated)
    # a fact with under 10 hold-out misses has no stable risk: reported, not scored
    assert all(
        r["risk"] is None and r["within_limit"] is None for r in inference if not r["estimable"]
    )
    assert summary["inference_risk_max"] == max((r["risk"] for r in estimated), default=None)
    assert "distances" not in privacy  # the JSON holds summaries only
    bias = report["bias"]
    assert isinstance(bias, list) and {b["axis"] for b in bias} == {
        "ethnicity",
        "ethnicity_sex",
        "eal",
        "imd_quintile",
    }
    scored = [b for b in bias if b["scored"]]
    assert scored and all(0 <= b["max_rate_gap_points"] <= 100 for b in scored)
    assert all("holdout_max_rate_gap_points" in b for b in scored)  # the noise floor beside it
    goal = report["bias_goal"]
    assert isinstance(goal, dict) and set(goal) >= {"groups_judged", "within_2_points"}
    html = (built.twin_dir / "report.html").read_text()
    assert "SYNTHETIC" in html
    for png in ("effects", "columns", "privacy", "bias"):
        assert (built.twin_dir / "figures" / f"{png}.png").stat().st_size > 1000


def test_privacy_measures_catch_a_copy_of_the_real_data(built: Built) -> None:
    """A 'twin' that is the training data itself must score as disclosive."""
    data = read_store(built.node.root / "store.duckdb", seed=3, holdout=0.2)
    copy = data.person[data.person["person_id"].isin(data.train_ids)]
    leaked = privacy_report(data, copy, seed=3)
    assert leaked["exact_copy_share"] > 0.9
    assert leaked["replicated_unique_share"] > 0.5  # most children are unique in these fields
    # a copy tells an attacker who knows birth month, sex, ethnicity and area a child's facts
    assert leaked["inference_risk_max"] > 0.5
    twin_risk = built.report["privacy"]["inference_risk_max"]  # type: ignore[index]
    assert twin_risk is None or twin_risk < leaked["inference_risk_max"]
    assert leaked["mia_auc"] > 0.7
    assert built.report["privacy"]["exact_copy_share"] < leaked["exact_copy_share"] / 2  # type: ignore[index]


def test_cli_make_and_download_are_governed(built: Built, tmp_path: Path) -> None:
    node = str(built.node.root)
    code = main(["synth", "make", node, "--seed", "5", "--json"], {})
    assert code == 0
    twins = sorted((built.node.root / "synth").iterdir())
    assert len(twins) == 1 and (twins[0] / "twin.duckdb").is_file()
    before = (twins[0] / "report.json").stat().st_mtime_ns
    assert main(["synth", "report", node, twins[0].name, "--json"], {}) == 0
    assert (twins[0] / "report.json").stat().st_mtime_ns > before
    assert main(["synth", "list", node, "--json"], {}) == 0
    # the node administrator has no research project: the download is refused and audited
    code = main(["synth", "download", node, twins[0].name, "--to", str(tmp_path)], {})
    assert code == 3
    assert not (tmp_path / twins[0].name).exists()
    con = duckdb.connect(str(built.node.root / "govern.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT action, outcome FROM audit__events WHERE action IN "
            "('make_synthetic', 'download_synthetic') ORDER BY seq"
        ).fetchall()
    finally:
        con.close()  # the next test writes to the governance database
    assert rows == [
        ("make_synthetic", "allow"),  # make
        ("make_synthetic", "allow"),  # report
        ("make_synthetic", "allow"),  # list
        ("download_synthetic", "deny"),
    ]


def test_an_accredited_researcher_downloads_under_a_project(built: Built, tmp_path: Path) -> None:
    from datetime import timedelta

    from joinedup.govern import LOCAL_OPERATOR, Actor, Organisation, OrgKind, Role
    from joinedup.govern.actors import add_actor
    from joinedup.govern.cohort import WHOLE_POPULATION
    from joinedup.govern.database import open_govern
    from joinedup.govern.projects import (
        ProjectSpec,
        Review,
        Setting,
        apply_project,
        countersign_project,
        review_project,
    )
    from joinedup.model import Purpose

    today = date.today()
    uni = Organisation(org_id="uni", kind=OrgKind.VCSE, name="a university")
    home = Organisation(org_id="node", kind=OrgKind.NODE, name="this node")

    def person(actor_id: str, role: Role, **extra: object) -> Actor:
        return Actor(
            actor_id=actor_id,
            display_name=actor_id,
            role=role,
            org=uni if role is Role.RESEARCHER else home,
            accredited_until=today + timedelta(days=400) if role is Role.RESEARCHER else None,
            ig_training_on=today - timedelta(days=30),
            **extra,  # type: ignore[arg-type]
        )

    actors = {
        a.actor_id: a
        for a in (
            person("syn-res", Role.RESEARCHER),
            person("syn-other", Role.RESEARCHER),
            person("syn-lay", Role.DAC_MEMBER, is_lay=True),
            person("syn-dac", Role.DAC_MEMBER),
        )
    }
    spec = ProjectSpec(
        title="Trying an analysis on the twin",
        purpose=Purpose.RESEARCH,
        members=("syn-res",),
        lay_summary="Write the code on invented data first.",
        public_benefit="Analyses ready before anyone touches real records.",
        legal_basis="6(1)(e)+9(2)(j)+s251",
        datasets=("view__secondary__person",),
        variables=("view__secondary__person.sex",),
        cohort="every child",
        cohort_spec=WHOLE_POPULATION,
        setting=Setting.SYNTHETIC,
        outputs="none: code development only",
        expires_on=today + timedelta(days=300),
    )
    with open_govern(built.node) as con:
        for actor in actors.values():
            add_actor(con, actor)
        project = apply_project(
            con, spec, applicant=actors["syn-res"], members=[actors["syn-res"]], today=today
        )
        for reviewer in ("syn-lay", "syn-dac"):
            review_project(
                con,
                project.project_id,
                reviewer=actors[reviewer],
                decision=Review.APPROVE,
                conditions=None,
                today=today,
            )
        countersign_project(con, project.project_id, signer=LOCAL_OPERATOR, today=today)
    node = str(built.node.root)
    twin_id = "T-download"
    shutil.copytree(built.twin_dir, built.node.root / "synth" / twin_id)
    base = ["synth", "download", node, twin_id, "--project", project.project_id]
    assert main([*base, "--to", str(tmp_path / "a"), "--as", "syn-res"], {}) == 0
    taken = tmp_path / "a" / twin_id
    assert (taken / "twin.duckdb").is_file() and (taken / "report.html").is_file()
    assert main([*base, "--to", str(tmp_path / "b"), "--as", "syn-other"], {}) == 3
    assert not (tmp_path / "b").exists()
    con = duckdb.connect(str(built.node.root / "govern.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT actor_id, outcome, project_id FROM audit__events "
            "WHERE action = 'download_synthetic' AND actor_id LIKE 'syn-%' ORDER BY seq"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        ("syn-res", "allow", project.project_id),
        ("syn-other", "deny", project.project_id),
    ]


def test_a_job_runs_on_the_twin_unchanged(built: Built, tmp_path: Path) -> None:
    """Lock 1: a researcher's job, written against the secondary views, runs on the twin."""
    job = tmp_path / "job"
    job.mkdir()
    (job / "job.toml").write_text(
        'project = "P0001"\nentry = "analysis.py"\n\n[views]\n'
        'view__secondary__eyfsp = ["is_gld"]\nview__secondary__person = ["sex"]\n'
    )
    (job / "analysis.py").write_text(
        "from joinedup import research\n"
        "rows = research.sql(\n"
        '    "SELECT p.person_id, p.sex, e.is_gld FROM view__secondary__person p "\n'
        "    \"JOIN view__secondary__eyfsp e USING (person_id) WHERE p.sex IN ('F', 'M')\"\n"
        ")\n"
        'research.table("gld_by_sex", rows, by=["sex", "is_gld"])\n'
    )
    twin = built.twin_dir / "twin.duckdb"
    assert main(["job", "run", str(job), "--synthetic", "--data", str(twin)], {}) == 0
    assert (job / "outputs" / "gld_by_sex.csv").is_file()
