"""The checker's rules, one small table each, under every profile; evidence against a direct
computation; the ledger's perturbation; the ACRO-format record."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from joinedup.errors import ConfigError, DisclosureBlocked, UsageError
from joinedup.outputs import PROFILES, Statistic, check_table, collect_evidence, get_profile
from joinedup.outputs.check import complete_grid, midpoint6, round_to_base
from joinedup.outputs.evidence import evidence_from_arrays
from joinedup.outputs.ledger import noise_table
from joinedup.outputs.suppression import feasible_intervals, protect
from tests.outputs.conftest import SessionFactory


def _one_way(n: list[int], **kw: object) -> object:
    keys = (np.array([f"c{i}" for i in range(len(n))], dtype=object),)
    return evidence_from_arrays(dims=("c",), keys=keys, n=np.array(n, dtype=np.int64), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "profile,n,expected",
    [
        # threshold 10, zeros disclosive, round to 5; a lone small cell takes a partner with it
        ("joinedup", [9, 10, 50], ["suppressed", "secondary", "released"]),
        ("joinedup", [0, 30, 40], ["suppressed", "secondary", "released"]),
        ("joinedup", [12, 30, 40], ["released", "released", "released"]),
        # OpenSAFELY: <= 7 redacted, zeros may stay
        ("opensafely", [7, 8, 50], ["suppressed", "secondary", "released"]),
        ("opensafely", [0, 8, 50], ["released", "released", "released"]),
        # ACRO: no secondary suppression (margins recomputed instead)
        ("acro", [9, 10, 50], ["suppressed", "released", "released"]),
    ],
)
def test_threshold_zero_and_secondary(profile: str, n: list[int], expected: list[str]) -> None:
    result = check_table(_one_way(n), get_profile(profile))  # type: ignore[arg-type]
    assert list(result.status) == expected


def test_rounding_happens_after_suppression_and_margins_are_sums_of_released() -> None:
    result = check_table(_one_way([3, 12, 13, 27]), get_profile("joinedup"))  # type: ignore[arg-type]
    assert np.isnan(result.values[0]) and np.isnan(result.values[1])  # 3 and its partner 12
    assert list(result.values[2:]) == [15.0, 25.0]
    assert result.margins["total"][0] == 40.0


def test_rounding_helpers() -> None:
    assert list(round_to_base(np.array([0.0, 2, 3, 12, 13]), 5)) == [0, 0, 5, 10, 15]
    assert list(midpoint6(np.array([0.0, 1, 6, 7, 12, 13]))) == [0, 3, 3, 9, 9, 15]


@pytest.mark.parametrize(
    "top1,top2,total,rules",
    [
        (60.0, 5.0, 100.0, {"nk_1_0.5"}),  # one child holds 60%
        (45.0, 41.0, 100.0, {"nk_2_0.85"}),  # two hold 86%; the rest is 31% of the top
        (80.0, 15.0, 100.0, {"nk_1_0.5", "nk_2_0.85", "p_percent"}),
        (30.0, 20.0, 100.0, set()),
    ],
)
def test_dominance_rules(top1: float, top2: float, total: float, rules: set[str]) -> None:
    ev = _one_way([20], total=np.array([total]), top1=np.array([top1]), top2=np.array([top2]))
    result = check_table(ev, get_profile("joinedup"), statistic=Statistic.SUM)  # type: ignore[arg-type]
    assert set(result.reasons[0]) == rules


def test_acro_profile_passes_a_76_percent_outlier_that_joinedup_stops() -> None:
    # the research note's case: one pupil is 76% of a 152-pupil cell
    ev = _one_way([152], total=np.array([100.0]), top1=np.array([76.0]), top2=np.array([1.0]))
    acro = check_table(ev, get_profile("acro"), statistic=Statistic.MEAN)  # type: ignore[arg-type]
    ours = check_table(ev, get_profile("joinedup"), statistic=Statistic.MEAN)  # type: ignore[arg-type]
    assert acro.status[0] == "released" and ours.status[0] == "suppressed"


def test_negatives_suppress_magnitudes() -> None:
    ev = _one_way([20], total=np.array([10.0]), top1=np.array([3.0]), negatives=np.array([1]))
    result = check_table(ev, get_profile("joinedup"), statistic=Statistic.SUM)  # type: ignore[arg-type]
    assert "negative" in result.reasons[0]


@pytest.mark.parametrize("stat", [Statistic.MIN, Statistic.MAX])
def test_extremes_blocked(stat: Statistic) -> None:
    with pytest.raises(DisclosureBlocked):
        check_table(_one_way([50]), get_profile("joinedup"), statistic=stat)  # type: ignore[arg-type]


def test_structural_zero_is_released_and_declaration_checked() -> None:
    ev = _one_way([0, 30, 40])
    result = check_table(ev, get_profile("joinedup"), structural_zeros=frozenset({("c0",)}))  # type: ignore[arg-type]
    assert list(result.status) == ["structural_zero", "released", "released"]
    with pytest.raises(UsageError):
        check_table(ev, get_profile("joinedup"), structural_zeros=frozenset({("c1",)}))  # type: ignore[arg-type]


def test_class_disclosure_zero_beside_one_category() -> None:
    keys = (
        np.array(["a", "a", "b", "b"], dtype=object),
        np.array(["y", "n", "y", "n"], dtype=object),
    )
    ev = evidence_from_arrays(dims=("r", "c"), keys=keys, n=np.array([30, 0, 20, 25]))
    result = check_table(ev, get_profile("opensafely"))
    assert "class" in result.reasons[1]


@pytest.mark.parametrize("seed", range(40))
def test_secondary_suppression_leaves_every_primary_cell_protected(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(2, 7)), int(rng.integers(2, 7)))
    values = rng.choice([0, 1, 2, 4, 7, 11, 15, 30, 80], size=shape).astype(float)
    primary = (values > 0) & (values < 10)
    res = protect(values, primary, protection=10.0)
    targets = [(int(i), int(j)) for i, j in zip(*np.nonzero(primary), strict=True)]
    if not targets:
        return
    intervals = feasible_intervals(values, res.suppressed, targets)
    # the attacker's range (true margins known) is at least the threshold wide, or as wide as
    # the cell's own row or column total allows
    if res.suppressed.all():
        return  # nothing more can be hidden: the margins alone bound the cells
    assert res.lp_checked
    for (i, j), (lo, hi) in intervals.items():
        cap = min(10.0, values[i].sum(), values[:, j].sum())
        assert hi - lo >= cap - 1e-9, ((i, j), lo, hi)


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        get_profile("lenient")
    assert set(PROFILES) == {"joinedup", "acro", "opensafely"}


def test_evidence_matches_a_direct_computation() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT 'P' || (i % 50)::VARCHAR AS pid, (i % 3)::VARCHAR AS g, "
        "CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 11) - 2 END::DOUBLE AS v FROM range(300) r(i)"
    )
    ev = collect_evidence(con.table("t"), by=["g"], person="pid", value="v")
    rows = con.execute("SELECT pid, g, v FROM t").fetchall()
    for k in range(ev.size):
        g = ev.keys[0][k]
        mine = [r for r in rows if r[1] == g]
        per_person: dict[str, float] = {}
        for pid, _, v in mine:
            per_person[pid] = per_person.get(pid, 0.0) + (v or 0.0)
        contrib = sorted(per_person.values(), reverse=True)
        assert ev.n[k] == len(per_person)
        assert ev.rows[k] == len(mine)
        assert ev.total[k] == pytest.approx(sum(contrib))
        assert (ev.top1[k], ev.top2[k]) == pytest.approx((contrib[0], contrib[1]))
        assert ev.missing[k] == sum(1 for r in mine if r[2] is None)
        assert ev.negatives[k] == sum(1 for r in mine if r[2] is not None and r[2] < 0)
        assert ev.distinct[k] == len({r[2] for r in mine if r[2] is not None})


def test_population_hash_is_the_same_for_the_same_people_whatever_the_query() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 'P' || i::VARCHAR AS pid, 'x' AS g FROM range(40) r(i)")
    a = collect_evidence(con.table("t"), by=["g"], person="pid")
    b = collect_evidence(con.sql("SELECT * FROM t ORDER BY pid DESC"), by=["g"], person="pid")
    c = collect_evidence(con.sql("SELECT * FROM t WHERE pid <> 'P3'"), by=["g"], person="pid")
    assert a.population_hash[0] == b.population_hash[0] != c.population_hash[0]


def test_complete_grid_adds_absent_cells_as_zeros() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES ('p1','a','x'), ('p2','b','y')) v(pid, r, c)"
    )
    ev = complete_grid(collect_evidence(con.table("t"), by=["r", "c"], person="pid"))
    assert ev.size == 4 and sorted(ev.n.tolist()) == [0, 0, 1, 1]


def test_noise_table_is_symmetric_with_mean_zero() -> None:
    table = noise_table(2)
    assert len(table) == 256 and table.min() == -2 and table.max() == 2
    assert table.sum() == 0 and (np.sort(table) == np.sort(-table)).all()


def test_perturbation_is_the_same_for_the_same_people(session_for: SessionFactory) -> None:
    s = session_for()
    s.table("all", s.con.sql("SELECT * FROM pupils"), by=["la"])
    a = s.table("a", s.con.sql("SELECT * FROM pupils WHERE person_id <> 'P00045'"), by=["la"])
    b = s.table("b", s.con.sql("SELECT * FROM pupils WHERE person_id <> 'P00045'"), by=["la"])
    assert a.perturbed and b.perturbed
    assert list(a.table.values) == list(b.table.values)  # type: ignore[union-attr]


def test_every_release_writes_an_acro_format_record(session_for: SessionFactory) -> None:
    s = session_for()
    out = s.table("la_by_sen", s.con.sql("SELECT * FROM pupils"), by=["la", "sen"])
    data = json.loads((s.release_dir / "results.json").read_text())
    assert data["version"] == "1.0.2" and set(data) == {"version", "tool", "results"}
    entry = data["results"][out.release_id]
    assert set(entry) == {
        "uid",
        "status",
        "type",
        "properties",
        "files",
        "outcome",
        "command",
        "summary",
        "timestamp",
        "comments",
        "exception",
        "fair",
    }
    assert entry["files"][0]["name"] == "la_by_sen.csv"
    assert set(entry["files"][0]["sdc"]) == {"summary", "cells"}
    assert entry["outcome"]["E"]["LA4"].startswith("threshold")
    digest = (s.release_dir / "checksums" / "la_by_sen.csv.txt").read_text()
    import hashlib

    assert digest == hashlib.sha256((s.release_dir / "la_by_sen.csv").read_bytes()).hexdigest()
    assert (s.release_dir / "config.json").exists()


def test_refused_output_is_staged_not_released_and_can_go_to_review(
    session_for: SessionFactory,
) -> None:
    s = session_for()
    out = s.model(
        "tiny",
        s.con.sql("SELECT * FROM pupils WHERE la = 'LA4'"),
        outcome="absence",
        covariates=["age"],
    )
    assert out.status == "refused" and any("degrees of freedom" in r for r in out.reasons)
    assert not (s.release_dir / "tiny.csv").exists()
    assert (s.staging_dir / out.release_id / "tiny.csv").exists()
    s.request_exception(out.release_id, "dof 8; the checker agrees the model is safe")
    s.vote(out.release_id, checker="checker-a", approve=True)
    s.vote(out.release_id, checker="checker-b", approve=True)
    assert (s.release_dir / "tiny.csv").exists()
    entry = json.loads((s.release_dir / "results.json").read_text())["results"][out.release_id]
    assert entry["status"] == "review" and "dof 8" in entry["exception"]


def test_ledger_holds_every_cell_with_its_population_definition(
    session_for: SessionFactory,
) -> None:
    s = session_for()
    out = s.table("by_la", s.con.sql("SELECT * FROM pupils WHERE fsm = 'Y'"), by=["la"])
    definition, status = s.con.execute(
        "SELECT definition, status FROM ledger.out__releases WHERE release_id = ?", [out.release_id]
    ).fetchone()  # type: ignore[misc]
    assert "fsm" in definition and status == "released"
    cells = s.con.execute(
        "SELECT count(*), sum(true_n) FROM ledger.out__cells WHERE release_id = ?", [out.release_id]
    ).fetchone()
    members = s.con.execute(
        "SELECT count(*) FROM ledger.out__cell_members WHERE release_id = ?", [out.release_id]
    ).fetchone()
    n_fsm = s.con.execute("SELECT count(*) FROM pupils WHERE fsm = 'Y'").fetchone()
    assert cells == (5, n_fsm[0]) and members == n_fsm  # type: ignore[index]


def test_release_files_never_hold_suppressed_values(
    session_for: SessionFactory, tmp_path: Path
) -> None:
    s = session_for()
    out = s.table("la_by_sen", s.con.sql("SELECT * FROM pupils"), by=["la", "sen"])
    text = out.files[0].read_text()
    assert "LA4,E,[suppressed]" in text and "LA4,N,[suppressed]" in text


def test_a_refusal_never_tells_the_small_count(session_for: SessionFactory) -> None:
    s = session_for("opensafely")  # refuses on conflict (no perturbation)
    s.table("all", s.con.sql("SELECT * FROM pupils"), by=["la"])
    out = s.table(
        "but_one", s.con.sql("SELECT * FROM pupils WHERE person_id <> 'P00045'"), by=["la"]
    )
    assert out.status == "refused" and out.reasons[0].startswith("differencing")
    text = " ".join(out.reasons)
    assert "[" not in text and "range" not in text  # no range, no count of the group


def test_a_name_already_released_is_refused_before_the_ledger_records_it(
    session_for: SessionFactory,
) -> None:
    s = session_for()
    first = s.table("by_la", s.con.sql("SELECT * FROM pupils"), by=["la"])
    assert first.is_released
    before = s.con.execute("SELECT count(*) FROM ledger.out__releases").fetchone()
    with pytest.raises(UsageError, match="already released"):
        s.table("by_la", s.con.sql("SELECT * FROM pupils"), by=["la"])
    with pytest.raises(UsageError, match="already released"):
        s.summary("by_la", s.con.sql("SELECT * FROM pupils"), by=["la"], value="score")
    after = s.con.execute("SELECT count(*) FROM ledger.out__releases").fetchone()
    assert before == after


def test_evidence_keeps_a_missing_dimension_value_as_a_cell_and_no_dimension_as_one_cell() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT 'P' || i::VARCHAR AS pid, "
        "CASE WHEN i % 4 = 0 THEN NULL ELSE (i % 2)::VARCHAR END AS g, i::DOUBLE AS v "
        "FROM range(40) r(i)"
    )
    for value in (None, "v"):
        ev = collect_evidence(con.table("t"), by=["g"], person="pid", value=value)
        assert int(ev.n.sum()) == 40 and ev.size == 3
        whole = collect_evidence(con.table("t"), by=[], person="pid", value=value)
        assert whole.size == 1 and int(whole.n[0]) == 40
