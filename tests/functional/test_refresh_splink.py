"""``joinedup node refresh`` with the Splink stage (the default method) on a simulated district.

Scored pairwise against the simulator's truth, overall and by ethnic group. Measured on this
district (2,500 people, seed 5): see the assertions' messages; the floors sit below the measured
figures so they guard against regressions rather than one seed's noise. Larger districts are
measured by ``bench`` (docs/reference/linkage-model.md).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from refreshed_district import RefreshedDistrict, refreshed_district

from joinedup.cli.main import main
from joinedup.config import load_node
from joinedup.link import model_path, score_node_against_truth
from joinedup.link.quality import score_node_by_group


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> RefreshedDistrict:
    return refreshed_district(tmp_path_factory)


def test_default_refresh_runs_splink_and_meets_the_quality_floor(
    district: RefreshedDistrict,
) -> None:
    assert district.result.index.method == "deterministic-v1+splink-v1+review"
    score = score_node_against_truth(district.node, district.extracts / "truth" / "person_map.csv")
    print(f"splink P {score.precision:.5f} R {score.recall:.4f} F1 {score.f1:.4f}")
    assert score.precision >= 0.999
    assert score.recall >= 0.97
    assert model_path(district.node.root).is_file()


def test_recall_is_even_across_ethnic_groups(district: RefreshedDistrict) -> None:
    groups = score_node_by_group(district.node, district.extracts / "truth", "ethnic_group")
    big = [g for g in groups if g.true_pairs >= 500]
    assert len(big) >= 4
    for g in big:
        print(f"{g.group}: P {g.precision:.4f} R {g.recall:.4f} ({g.true_pairs} true pairs)")
        assert g.precision >= 0.99
    recalls = [g.recall for g in big]
    assert max(recalls) - min(recalls) <= 0.05


def test_cli_methods_and_model_reuse(
    district: RefreshedDistrict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "node"
    shutil.copytree(district.node.root, root)
    node = load_node(root)
    truth = district.extracts / "truth" / "person_map.csv"

    assert main(["node", "refresh", str(root), "--method", "deterministic", "--json"], {}) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "deterministic-v1+review"
    assert summary["stage_reports"] == {}
    deterministic = score_node_against_truth(node, truth)

    assert main(["node", "refresh", str(root), "--json"], {}) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "deterministic-v1+splink-v1+review"
    report = summary["stage_reports"]["splink-v1"]
    assert report["model"] == "loaded"
    assert summary["edges_by_rule"]["splink"] == report["component_merges"] > 0
    splink = score_node_against_truth(node, truth)
    assert splink.recall > deterministic.recall

    assert main(["node", "refresh", str(root), "--method", "nonsense"], {}) == 2
    capsys.readouterr()


def test_no_pair_or_term_frequency_table_reaches_the_store(district: RefreshedDistrict) -> None:
    # Splink's own tables stay in its private connection; the pair cache keeps keyed profile
    # hashes and scores only (tests/unit/link/test_pair_cache.py)
    con = duckdb.connect(str(district.node.store_path), read_only=True)
    try:
        names = [
            t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        ]
        cache_columns = {
            t: [(c, str(k)) for c, k, *_ in con.execute(f"DESCRIBE {t}").fetchall()]
            for t in names
            if t.startswith("link__pair_cache")
        }
    finally:
        con.close()
    assert not [t for t in names if "splink" in t or t.startswith("__")]
    assert cache_columns == {
        "link__pair_cache_state": [
            ("model_fingerprint", "VARCHAR"),
            ("floor", "DOUBLE"),
            ("saved_at", "TIMESTAMP"),
        ],
        "link__pair_cache_profiles": [("profile_hash", "VARCHAR")],
        "link__pair_cache_pairs": [
            ("profile_hash_l", "VARCHAR"),
            ("profile_hash_r", "VARCHAR"),
            ("match_weight", "DOUBLE"),
            ("match_probability", "DOUBLE"),
        ],
    }


def test_a_district_too_small_to_train_keeps_the_exact_index_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 300 children (seed 7) give EM too little to estimate: an m probability underflows.
    folder = tmp_path / "tiny"
    code = main(
        ["demo", "--dir", str(folder), "--people", "300", "--seed", "7", "--no-serve", "--json"],
        {},
    )
    assert code == 0
    capsys.readouterr()
    assert main(["node", "refresh", str(folder / "node"), "--json"], {}) == 0
    report = json.loads(capsys.readouterr().out)
    splink = report["stage_reports"]["splink-v1"]
    assert report["persons"] > 250
    if "skipped" in splink:
        assert "exact rules' index stands" in splink["skipped"]
    else:
        assert splink["model"] in {"trained", "loaded"}


def _person_of(store: Path, record_key: str) -> str:
    con = duckdb.connect(str(store), read_only=True)
    try:
        row = con.execute(
            "SELECT person_id FROM link__record_person WHERE record_key = ?", [record_key]
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0])


def test_grey_zone_pairs_are_queued_and_a_match_decision_joins_them_on_refresh(
    district: RefreshedDistrict, tmp_path: Path
) -> None:
    from joinedup.link.probabilistic import DEFAULT_REVIEW_FLOOR, DEFAULT_THRESHOLD
    from joinedup.link.review import decide_item, list_items

    report = district.result.stage_reports["splink-v1"]
    assert report["review_grey_zone"] > 0
    # the queue keeps what earlier refreshes of this node queued too, so it may hold more
    items = [i for i in list_items(district.node) if i.stage == "splink-v1"]
    grey = [i for i in items if i.kind == "grey_zone"]
    assert grey
    for item in grey:
        assert item.match_probability is not None
        assert DEFAULT_REVIEW_FLOOR <= item.match_probability < DEFAULT_THRESHOLD
    # queued pairs are two persons still apart (an item queued by an earlier refresh of the
    # node may since have been joined another way, so nearly all rather than all)
    apart = [
        i
        for i in grey
        if _person_of(district.node.store_path, i.record_key_a)
        != _person_of(district.node.store_path, i.record_key_b)
    ]
    assert len(apart) >= 0.9 * len(grey)

    root = tmp_path / "node"
    shutil.copytree(district.node.root, root)
    node = load_node(root)
    chosen = apart[0]
    decide_item(node, chosen.item_id, "match", reviewer="Test Reviewer")
    assert main(["node", "refresh", str(root), "--json"], {}) == 0
    assert _person_of(node.store_path, chosen.record_key_a) == _person_of(
        node.store_path, chosen.record_key_b
    )
    # the decided item is closed; requeueing the same pair does not reopen it
    assert chosen.item_id not in {i.item_id for i in list_items(node)}
