"""The same Splink model on DuckDB and on Spark (``--engine spark``) links the same way.

A small simulated district's GP registrations (about 480 records of 200 children, with the
simulator's typos, name variants and moves) are de-duplicated with ``link files``: once on
DuckDB, which trains the model, and once on Spark in local mode with that model. Both must give
the same clusters (an identical partition of the records) and the same match probabilities.
Spark starts once for the module (about 20-40 s on two cores); training on Spark is exercised
by the benchmark (``python -m bench.run --only spark``), where it has the time it needs.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from joinedup.cli.main import main
from joinedup.errors import LinkageError
from joinedup.link.engine import EngineSpec, spark_session, spark_sql
from joinedup.link.files import FileLinkResult, FileLinkSpec, link_files
from joinedup.simulate import SimulationSpec, simulate_district

COLUMNS = {
    "column_map": (
        ("forename", "given_name"),
        ("surname", "family_name"),
        ("dob", "date_of_birth"),
    ),
    "ignore": (
        "patient_id",
        "practice_code",
        "registration_start",
        "registration_end",
        "ethnic_category",
    ),
}
PROBABILITY_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    out: Path
    result: FileLinkResult


@pytest.fixture(scope="module")
def patients(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("spark_parity")
    simulate_district(SimulationSpec(people=200, seed=3, as_of=date(2026, 8, 31)), base / "sim")
    return base / "sim" / "gp_events" / "patients.csv"


def _run(patients: Path, out: Path, engine: EngineSpec, model: Path | None = None) -> Run:
    spec = FileLinkSpec(files=(patients,), out=out, engine=engine, model=model, **COLUMNS)
    return Run(out=out, result=link_files(spec))


@pytest.fixture(scope="module")
def on_duckdb(patients: Path) -> Run:
    return _run(patients, patients.parent.parent / "duckdb", EngineSpec(name="duckdb"))


@pytest.fixture(scope="module")
def on_spark(patients: Path, on_duckdb: Run) -> Run:
    engine = EngineSpec(
        name="spark",
        spark_master="local[2]",
        spark_partitions=1,
        checkpoint_dir=patients.parent.parent / "ckpt",
    )
    return _run(patients, patients.parent.parent / "spark", engine, on_duckdb.out / "model.json")


def _clusters(out: Path) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    with (out / "clusters.csv").open() as f:
        for row in csv.DictReader(f):
            groups.setdefault(row["cluster_id"], set()).add(row["record_id"])
    return {frozenset(g) for g in groups.values()}


def _pairs(out: Path) -> dict[tuple[str, str], float]:
    with (out / "pairs.csv").open() as f:
        return {
            tuple(sorted((r["record_id_l"], r["record_id_r"]))): float(r["match_probability"])  # type: ignore[misc]
            for r in csv.DictReader(f)
        }


def test_a_master_spark_rejects_is_a_clear_error_not_a_java_trace(
    patients: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # runs first: it starts (and fails) a Spark of its own before the module's Spark starts
    args = ["link", "files", str(patients), "--out", str(tmp_path / "out")]
    args += [f"--map={a}={b}" for a, b in COLUMNS["column_map"]]
    args += [f"--ignore={c}" for c in COLUMNS["ignore"]]
    code = main([*args, "--engine", "spark", "--spark-master", "local[0]"], {})
    err = capsys.readouterr().err
    assert code == 5
    assert "Spark could not start with master 'local[0]'" in err
    assert "Traceback" not in err and "py4j" not in err and "at org.apache" not in err
    assert not (tmp_path / "out" / "clusters.csv").exists()


def test_a_malformed_master_is_refused_before_spark_starts() -> None:
    with pytest.raises(LinkageError, match="is not a master URL"):
        spark_session(EngineSpec(name="spark", spark_master="localhost:7077"))


def test_same_clusters_on_both_engines(on_duckdb: Run, on_spark: Run) -> None:
    duck, spark = _clusters(on_duckdb.out), _clusters(on_spark.out)
    assert sum(len(c) for c in duck) == on_duckdb.result.records["patients"] > 400
    # the link is not trivial: many records joined, and some clusters of three or more
    assert on_duckdb.result.records_in_multi_record_clusters > 200
    assert any(len(c) >= 3 for c in duck)
    assert spark == duck


def test_same_match_probabilities_on_both_engines(on_duckdb: Run, on_spark: Run) -> None:
    assert on_spark.result.scored_pairs == on_duckdb.result.scored_pairs
    duck, spark = _pairs(on_duckdb.out), _pairs(on_spark.out)
    assert len(duck) > 100
    assert spark.keys() == duck.keys()
    worst = max(abs(duck[k] - spark[k]) for k in duck)
    assert worst <= PROBABILITY_TOLERANCE, worst


def test_the_model_saved_from_spark_is_the_duckdb_model(on_duckdb: Run, on_spark: Run) -> None:
    duck = json.loads((on_duckdb.out / "model.json").read_text())
    spark = json.loads((on_spark.out / "model.json").read_text())
    assert spark["sql_dialect"] == "duckdb"
    for a, b in zip(duck["comparisons"], spark["comparisons"], strict=True):
        for la, lb in zip(a["comparison_levels"], b["comparison_levels"], strict=True):
            assert la["sql_condition"] == lb["sql_condition"]
            for p in ("m_probability", "u_probability"):
                assert la.get(p) == pytest.approx(lb.get(p), abs=1e-12)
    report = json.loads((on_spark.out / "report.json").read_text())
    assert report["engine"] == {"name": "spark", "spark_master": "local[2]"}
    assert report["training"]["trained"] is False


def test_person_index_sql_has_a_spark_equivalent() -> None:
    assert (
        spark_sql("len(list_intersect(pc_history_l, pc_history_r)) > 0")
        == "SIZE(ARRAY_INTERSECT(pc_history_l, pc_history_r)) > 0"
    )
    assert spark_sql("abs(date_diff('day', dob_l, dob_r)) <= 366") == (
        "ABS(DATEDIFF(dob_r, dob_l)) <= 366"
    )
    assert (
        spark_sql("jaro_winkler_similarity(a_l, a_r) >= 0.92") == "JARO_WINKLER(a_l, a_r) >= 0.92"
    )
    with pytest.raises(LinkageError, match="list_reverse"):
        spark_sql("list_reverse(a_l) = a_r")


def test_person_index_on_spark_matches_duckdb(tmp_path: Path) -> None:
    """The person index of a 1,000-person district (about 5,500 identity records), ingested as an
    earlier snapshot and refreshed on DuckDB (the model trained there), then:

    - refreshed with ``full`` on Spark: every pair scored on Spark gives the same persons;
    - after the later snapshot, refreshed incrementally on Spark and on DuckDB from the same
      state: each reuses the pair cache and scores the new profiles (``predict_within`` and
      ``predict_between``) on its own engine, and the persons agree.

    About 45 s on two busy cores. (A 700-person district's earlier snapshot is too small to
    train the model on: the stage is skipped.)"""
    import shutil

    import duckdb

    from joinedup.config import load_node
    from joinedup.ingest import ingest_dir, init_node
    from joinedup.link import DeterministicStage, SplinkStage, model_path, refresh_node
    from joinedup.simulate import write_earlier_extracts

    as_of = date(2026, 8, 31)
    later = tmp_path / "later"
    simulate_district(SimulationSpec(people=1000, seed=11, as_of=as_of), later)
    assert write_earlier_extracts(later, tmp_path / "earlier") > 100
    node = init_node(tmp_path / "node", name="spark parity")
    ingest_dir(node, tmp_path / "earlier", today=as_of)
    fast = {"u_max_pairs": 2e5, "em_max_pairs": 2e5}

    def persons(root: Path) -> set[frozenset[str]]:
        con = duckdb.connect(str(root / "store.duckdb"), read_only=True)
        try:
            rows = con.execute("SELECT record_key, person_id FROM link__record_person").fetchall()
        finally:
            con.close()
        groups: dict[str, set[str]] = {}
        for key, person in rows:
            groups.setdefault(person, set()).add(key)
        return {frozenset(g) for g in groups.values()}

    def spark(root: Path) -> EngineSpec:
        return EngineSpec(name="spark", checkpoint_dir=root / "tmp" / "spark")

    on_duckdb = SplinkStage(model_path=model_path(node.root), **fast)
    refresh_node(node, stages=(DeterministicStage(), on_duckdb))
    assert on_duckdb.report["model"] == "trained" and on_duckdb.report["component_merges"] > 0
    expected = persons(node.root)
    full_on_spark = SplinkStage(
        model_path=model_path(node.root), engine=spark(node.root), full=True, **fast
    )
    refresh_node(node, stages=(DeterministicStage(), full_on_spark))
    report = full_on_spark.report
    assert report["model"] == "loaded" and report["engine"] == "spark"
    assert report["scoring"] == "full" and report["pairs_newly_scored"] > 0
    assert persons(node.root) == expected

    ingest_dir(node, later, today=as_of)
    twin_root = tmp_path / "node_duckdb"
    shutil.copytree(node.root, twin_root)
    on_spark = SplinkStage(model_path=model_path(node.root), engine=spark(node.root), **fast)
    refresh_node(node, stages=(DeterministicStage(), on_spark))
    again = SplinkStage(model_path=model_path(twin_root), **fast)
    refresh_node(load_node(twin_root), stages=(DeterministicStage(), again))
    for stage, engine in ((on_spark, "spark"), (again, "duckdb")):
        assert stage.report["engine"] == engine
        assert stage.report["scoring"] == "incremental", stage.report.get("full_because")
        assert stage.report["pairs_reused"] > 0 and stage.report["pairs_newly_scored"] > 0
    assert on_spark.report["pairs_newly_scored"] == again.report["pairs_newly_scored"]
    assert persons(node.root) == persons(twin_root)
