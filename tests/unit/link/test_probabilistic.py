"""The Splink stage (``joinedup.link.probabilistic``) and its model artefact, on a small
simulated district (about 700 people, 4,000 identity records), built once for the module."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from joinedup.config import NodeSettings
from joinedup.errors import ConfigError
from joinedup.ingest import ingest_dir, init_node
from joinedup.link import (
    DeterministicStage,
    LinkageScore,
    SplinkStage,
    load_artefact,
    model_path,
    refresh_node,
    score_node_against_truth,
)
from joinedup.link.probabilistic import _expected_errors, _Merges, untrained_settings
from joinedup.link.refresh import attach_vault
from joinedup.simulate import SimulationSpec, simulate_district

AS_OF = date(2026, 8, 31)
# smaller training samples than the defaults keep each training run near two seconds
FAST = {"u_max_pairs": 2e5, "em_max_pairs": 2e5}


@dataclass(frozen=True, slots=True, kw_only=True)
class District:
    extracts: Path
    node: NodeSettings
    deterministic: LinkageScore
    splink: LinkageScore
    stage: SplinkStage


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    base = tmp_path_factory.mktemp("splink")
    extracts = base / "extracts"
    simulate_district(SimulationSpec(people=700, seed=11, as_of=AS_OF), extracts)
    node = init_node(base / "node", name="splink unit district")
    ingest_dir(node, extracts, today=AS_OF)
    truth = extracts / "truth" / "person_map.csv"
    refresh_node(node, method="deterministic")
    deterministic = score_node_against_truth(node, truth)
    stage = SplinkStage(model_path=model_path(node.root), **FAST)
    refresh_node(node, stages=(DeterministicStage(), stage))
    splink = score_node_against_truth(node, truth)
    return District(
        extracts=extracts, node=node, deterministic=deterministic, splink=splink, stage=stage
    )


def test_splink_finds_links_exact_rules_miss_without_losing_precision(district: District) -> None:
    d, s = district.deterministic, district.splink
    print(
        f"deterministic P {d.precision:.5f} R {d.recall:.4f}; splink P {s.precision:.5f} "
        f"R {s.recall:.4f}"
    )
    assert s.recall > d.recall + 0.02
    assert s.precision >= 0.995
    assert district.stage.report["component_merges"] > 0
    assert district.stage.report["model"] == "trained"


def test_report_holds_counts_and_seconds_only(district: District) -> None:
    for key, value in district.stage.report.items():
        assert isinstance(value, int | float | str), key
        if isinstance(value, str):
            # the scoring mode and why a refresh scored everything are fixed phrases
            assert key in {"model", "settings_hash", "engine", "scoring", "full_because"}, key


def test_model_artefact_is_saved_with_its_settings_hash_and_no_names(district: District) -> None:
    path = model_path(district.node.root)
    artefact = load_artefact(path)
    assert artefact is not None
    assert artefact.model["comparisons"]
    assert artefact.training["profiles"] == district.stage.report["profiles"]
    text = path.read_text(encoding="utf-8").upper()
    con = duckdb.connect(str(district.node.vault_path), read_only=True)
    names = {
        v
        for (v,) in con.execute(
            "SELECT DISTINCT given_name_norm FROM vault__identities WHERE length(given_name_norm) "
            ">= 5 UNION SELECT DISTINCT family_name_norm FROM vault__identities "
            "WHERE length(family_name_norm) >= 5"
        ).fetchall()
    }
    con.close()
    assert len(names) > 50
    leaked = sorted(n for n in names if f'"{n}"' in text or f"'{n}'" in text)
    assert leaked == []


def test_a_second_refresh_loads_the_model_and_retrain_trains_again(
    district: District, tmp_path: Path
) -> None:
    node_copy = tmp_path / "node"
    shutil.copytree(district.node.root, node_copy)
    from joinedup.config import load_node

    node = load_node(node_copy)
    before = model_path(node.root).read_text(encoding="utf-8")
    loaded = SplinkStage(model_path=model_path(node.root), **FAST)
    refresh_node(node, stages=(DeterministicStage(), loaded))
    assert loaded.report["model"] == "loaded"
    assert model_path(node.root).read_text(encoding="utf-8") == before
    score = score_node_against_truth(node, district.extracts / "truth" / "person_map.csv")
    assert score.true_positive_pairs == district.splink.true_positive_pairs
    assert score.predicted_pairs == district.splink.predicted_pairs

    retrained = SplinkStage(model_path=model_path(node.root), retrain=True, **FAST)
    refresh_node(node, stages=(DeterministicStage(), retrained))
    assert retrained.report["model"] == "trained"

    # a model trained under other settings is not used
    data = json.loads(model_path(node.root).read_text(encoding="utf-8"))
    data["settings_hash"] = "0" * 64
    model_path(node.root).write_text(json.dumps(data), encoding="utf-8")
    stale = SplinkStage(model_path=model_path(node.root), **FAST)
    refresh_node(node, stages=(DeterministicStage(), stale))
    assert stale.report["model"] == "trained"

    model_path(node.root).write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_artefact(model_path(node.root))


def test_nothing_of_splink_is_written_to_the_store(district: District) -> None:
    con = duckdb.connect(str(district.node.store_path), read_only=True)
    tables = [
        t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    ]
    con.close()
    assert not [t for t in tables if "splink" in t.lower()]


def test_splink_logger_is_held_at_warning(district: District) -> None:
    assert logging.getLogger("splink").getEffectiveLevel() >= logging.WARNING


def test_splink_links_are_recorded_by_rule(district: District) -> None:
    con = duckdb.connect(str(district.node.store_path), read_only=True)
    attach_vault(con, district.node.vault_path)
    rows = dict(
        con.execute("SELECT linked_by, count(*) FROM link__record_person GROUP BY 1").fetchall()
    )
    method = con.execute(
        "SELECT method FROM link__runs ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    con.close()
    assert rows.get("splink", 0) > 0
    assert method == ("deterministic-v1+splink-v1",)


def test_settings_name_columns_the_profiles_hold() -> None:
    settings = untrained_settings()
    text = json.dumps(settings)
    for column in ("given_canon", "family_parts", "dob_swap", "pc_history", "nhs"):
        assert column in text
    assert "l.component <> r.component" in text


def test_merges_keep_at_most_one_nhs_number_through_chains() -> None:
    merges = _Merges({1: {"nhs": {10}}, 3: {"nhs": {30}}}, {"nhs": 1})
    assert merges.try_union(1, 2) is True  # 2 has no NHS number
    assert merges.try_union(2, 3) is False  # would bring 10 and 30 together through 2
    assert merges.try_union(1, 2) is None  # already one person
    assert merges.try_union(3, 4) is True
    assert merges.find(4) == merges.find(3) != merges.find(1)


def test_merges_respect_a_spine_limit_of_two() -> None:
    merges = _Merges({1: {"spine": {1}}, 2: {"spine": {2}}, 3: {"spine": {3}}}, {"spine": 2})
    assert merges.try_union(1, 2) is True
    assert merges.try_union(2, 3) is False


def test_expected_errors_weigh_each_merge_and_each_pair_left_apart_by_records() -> None:
    import pyarrow as pa

    from joinedup.link.stages import LinkContext

    con = duckdb.connect()
    # components (after the exact rules) 1: 2 records, 2: 1, 3: 3, 4: 1
    con.execute(
        "CREATE TABLE assign AS SELECT * FROM (VALUES ('a1', 1), ('a2', 1), ('b1', 2), "
        "('c1', 3), ('c2', 3), ('c3', 3), ('d1', 4)) t(record_key, component)"
    )
    context = LinkContext(
        con=con, records_table="-", residue_table="-", assignment_table="assign", edges_table="-"
    )

    def pairs(rows: list[tuple[int, int, float]]) -> pa.Table:
        left, right, prob = zip(*rows, strict=True)
        return pa.table(
            {
                "component_l": pa.array(left, pa.int64()),
                "component_r": pa.array(right, pa.int64()),
                "match_probability": pa.array(prob, pa.float64()),
                "match_weight": pa.array(prob, pa.float64()),
            }
        )

    accepted = pairs([(1, 2, 0.9)])
    merges = _Merges({}, {})
    assert merges.try_union(1, 2) is True
    merges.accepted_rows.append(0)
    # persons {1, 2} (3 records), {3} (3) and {4} (1); the best pair between {1, 2} and {3}
    # is 0.5, not 0.3
    grey = pairs([(1, 3, 0.3), (2, 3, 0.5), (3, 4, 0.2)])
    out = _expected_errors(context, accepted, grey, merges)
    assert out["expected_false_pairs"] == pytest.approx(0.1 * 2 * 1)
    assert out["expected_missed_pairs"] == pytest.approx(0.5 * 3 * 3 + 0.2 * 3 * 1)
    # 1 + 3 pairs inside components 1 and 3, and 2 made by the merge
    assert out["linked_record_pairs"] == 6


def test_a_refresh_reuses_cached_pairs_and_full_or_a_model_change_scores_all(
    district: District, tmp_path: Path
) -> None:
    from joinedup.config import load_node
    from joinedup.link.pair_cache import PAIRS_TABLE

    node_copy = tmp_path / "node"
    shutil.copytree(district.node.root, node_copy)
    node = load_node(node_copy)
    first = district.stage.report
    assert first["scoring"] == "full"
    artefact = load_artefact(model_path(node.root))
    assert artefact is not None and set(artefact.term_frequencies) == {
        "given_norm",
        "given_canon",
        "family_norm",
        "family_canon",
    }
    truth = district.extracts / "truth" / "person_map.csv"

    again = SplinkStage(model_path=model_path(node.root), **FAST)
    refresh_node(node, stages=(DeterministicStage(), again))
    assert again.report["scoring"] == "incremental"
    # profiles two components share exactly are scored each time; every other pair is reused
    assert again.report["pairs_reused"] >= 0.9 * first["pairs_newly_scored"]
    assert (
        again.report["pairs_reused"] + again.report["pairs_newly_scored"]
        == first["pairs_newly_scored"]
    )
    assert again.report["component_merges"] == first["component_merges"]
    score = score_node_against_truth(node, truth)
    assert score.predicted_pairs == district.splink.predicted_pairs

    full = SplinkStage(model_path=model_path(node.root), full=True, **FAST)
    refresh_node(node, stages=(DeterministicStage(), full))
    assert full.report["scoring"] == "full"
    assert full.report["pairs_reused"] == 0
    assert "asked for" in full.report["full_because"]
    # a full run still says what changed since the cache was written: here, nothing
    assert full.report["profiles_removed"] == 0
    assert full.report["profiles_unchanged"] == again.report["profiles_unchanged"] > 0
    assert full.report["profiles_new_or_changed"] == again.report["profiles_new_or_changed"]

    # a model whose parameters changed (settings unchanged) cannot reuse the cached scores
    data = json.loads(model_path(node.root).read_text(encoding="utf-8"))
    data["model"]["probability_two_random_records_match"] *= 1.5
    model_path(node.root).write_text(json.dumps(data), encoding="utf-8")
    changed = SplinkStage(model_path=model_path(node.root), **FAST)
    refresh_node(node, stages=(DeterministicStage(), changed))
    assert changed.report["model"] == "loaded"
    assert changed.report["scoring"] == "full"
    assert "model" in changed.report["full_because"]

    con = duckdb.connect(str(node.store_path), read_only=True)
    (cached,) = con.execute(f"SELECT count(*) FROM {PAIRS_TABLE}").fetchone() or (0,)
    (run,) = con.execute(
        "SELECT linkage FROM link__runs ORDER BY finished_at DESC LIMIT 1"
    ).fetchone() or ("{}",)
    con.close()
    assert cached > 0
    assert json.loads(run)["splink-v1"]["scoring"] == "full"
