"""Wilson intervals, and the HTML page built from a hand-made report (no node needed)."""

from __future__ import annotations

import json
from dataclasses import replace

import duckdb
import pytest

from joinedup.link.report import (
    AuditPair,
    BlockingRow,
    Clusters,
    FieldQuality,
    FieldWeights,
    LabelFree,
    LinkageReport,
    SubgroupRates,
    WeightHistogram,
    _rule_pairs,
    _run_linkage,
    _tighten_report_rules,
    wilson,
)
from joinedup.link.report_html import render_report_html


def test_wilson_matches_the_textbook_interval() -> None:
    rate = wilson(5, 10)
    assert rate.value == 0.5
    assert rate.low == pytest.approx(0.2366, abs=1e-4)
    assert rate.high == pytest.approx(0.7634, abs=1e-4)
    assert wilson(0, 0).value is None
    full = wilson(20, 20)
    assert full.high == 1.0 and full.low == pytest.approx(0.8389, abs=1e-4)


def _report(name: str) -> LinkageReport:
    return LinkageReport(
        node_name=name,
        generated_at="2026-01-01T00:00:00+00:00",
        provenance={
            "run_id": "r1",
            "method": "deterministic-v1",
            "rules": [],
            "thresholds": {"random_pairs_for_u": 10},
            "joinedup": "0.1.0",
        },
        records=10,
        inputs=(
            FieldQuality(
                field="sex",
                source="ks2",
                subgroup_kind="all",
                subgroup="all",
                records=10,
                present=wilson(9, 10),
                valid=wilson(8, 10),
            ),
        ),
        blocking=(
            BlockingRow(
                rule="upn", used_by_index=True, blocks=3, records=7, comparisons=5, largest_block=3
            ),
        ),
        field_weights=(FieldWeights(field="sex", level="=", m=0.99, u=0.5),),
        histograms=(
            WeightHistogram(
                source_pair="ks2 × ncmp",
                bin_edges=(0.0, 1.0, 2.0),
                linked=(1, 2),
                not_linked=(3, 0),
            ),
        ),
        label_free=LabelFree(
            candidate_pairs=8,
            linked_pairs=5,
            prior=0.1,
            expected_matches=4.5,
            expected_precision=0.9,
            expected_recall=0.8,
        ),
        truth_overall=None,
        truth_by_source_pair=(),
        subgroup_basis="store",
        subgroups=(SubgroupRates(kind="eal", group="EAL", records=4, link_rate=wilson(3, 4)),),
        false_match_audit=(
            AuditPair(
                record_key_a="a" * 32,
                record_key_b="b" * 32,
                source_a="ks2",
                source_b="ncmp",
                linked_by="upn",
                pattern={"sex": "="},
                match_weight=3.0,
                is_true_match=None,
            ),
        ),
        missed_match_audit=(),
        clusters=Clusters(
            size_distribution={"1": 3, "2": 2},
            persons_with_records=5,
            persons_with_two_nhs_numbers=0,
            conflicts_by_kind={},
        ),
    )


def test_page_escapes_text_and_embeds_its_charts() -> None:
    html = render_report_html(_report("<script>alert(1)</script>"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count('<figure role="img"') == 3  # histograms, one subgroup kind, clusters
    assert "<svg" in html and "http://" not in html.split("<svg")[0]
    assert "a" * 32 in html  # audit samples show record keys
    assert "ks2 × ncmp" in html


def test_as_dict_is_json_ready() -> None:
    import json

    data = _report("n").as_dict()
    assert json.loads(json.dumps(data))["field_weights"][0]["weight"] == pytest.approx(0.985, 0.01)


def _runs(linkage: str | None, *, with_column: bool = True) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(
        "CREATE TABLE link__runs (run_id VARCHAR" + (", linkage VARCHAR)" if with_column else ")")
    )
    if with_column:
        con.execute("INSERT INTO link__runs VALUES ('r1', ?)", [linkage])
    else:
        con.execute("INSERT INTO link__runs VALUES ('r1')")
    return con


def test_run_linkage_reads_the_scoring_figures_only() -> None:
    stage = {
        "engine": "duckdb",
        "scoring": "incremental",
        "profiles_unchanged": 90,
        "profiles_new_or_changed": 10,
        "profiles_removed": 2,
        "pairs_reused": 400,
        "pairs_newly_scored": 35,
        "seconds_scoring": 0.25,
        "seconds": 1.5,
        "settings_hash": "abc123",
    }
    linkage = _run_linkage(_runs(json.dumps({"splink-v1": stage})), "r1")
    assert linkage["scoring"] == "incremental" and linkage["full_because"] is None
    assert linkage["stage"] == "splink-v1"
    assert linkage["counts"] == {
        "profiles_unchanged": 90,
        "profiles_new_or_changed": 10,
        "profiles_removed": 2,
        "pairs_reused": 400,
        "pairs_newly_scored": 35,
    }
    assert linkage["seconds"]["seconds_scoring"] == 0.25
    assert linkage["seconds"]["seconds_training"] is None
    assert "abc123" not in json.dumps(linkage)  # only the named figures are copied

    full = {"scoring": "full", "full_because": "a full refresh was asked for", "pairs_reused": 0}
    linkage = _run_linkage(_runs(json.dumps({"splink-v1": full})), "r1")
    assert linkage["scoring"] == "full"
    assert linkage["full_because"] == "a full refresh was asked for"
    html = render_report_html(
        replace(_report("n"), provenance={**_report("n").provenance, "linkage": linkage})
    )
    assert "full because a full refresh was asked for" in html
    assert "pairs reused from the pair cache" in html


def test_run_linkage_of_older_runs_is_not_recorded() -> None:
    for con in (_runs(None, with_column=False), _runs(None)):
        linkage = _run_linkage(con, "r1")
        assert linkage["scoring"] == "not recorded"
        assert "predates" in linkage["note"]
        assert all(v is None for v in linkage["counts"].values())
    deterministic = _run_linkage(_runs("{}"), "r1")
    assert deterministic["scoring"] == "not recorded" and "no pairs" in deterministic["note"]
    html = render_report_html(_report("n"))  # a report with no linkage figures at all
    assert "pair scoring: not recorded" in html
    html = render_report_html(
        replace(_report("n"), provenance={**_report("n").provenance, "linkage": linkage})
    )
    assert "pair scoring: not recorded (the latest refresh predates" in html


def _rec(con: duckdb.DuckDBPyConnection) -> None:
    """12 records born on one day, all named A* with family names B* or C*: 66 pairs share
    date of birth and given initial; sex splits them 6/6, family initial 8/4."""
    con.execute(
        "CREATE TABLE rec AS SELECT i AS rid, 'a' || i AS given, "
        "CASE WHEN i < 8 THEN 'b' ELSE 'c' END || i AS family, DATE '2015-03-04' AS dob, "
        "CASE WHEN i % 2 = 0 THEN 'M' ELSE 'F' END AS sex, 'LS1 1AA' AS postcode "
        "FROM range(12) t(i)"
    )


def test_report_rules_within_budget_are_used_as_written() -> None:
    con = duckdb.connect()
    _rec(con)
    rules = _tighten_report_rules(con, budget=1_000)
    assert all(label is None and before is None for _, label, before in rules.values())


def test_report_rule_over_budget_takes_the_tightening_that_keeps_most_pairs_within_it() -> None:
    con = duckdb.connect()
    _rec(con)
    rules = _tighten_report_rules(con, budget=34)
    sql, label, before = rules["report:dob_initial"]
    assert before == 66
    # sex leaves 2 x 15 = 30 pairs, family initial 28 + 6 = 34: both fit, the latter keeps more
    assert label == "family initial"
    assert _rule_pairs(con, sql) == 34
    # with a budget below every option, the one leaving fewest pairs is used
    sql, label, _ = _tighten_report_rules(con, budget=10)["report:dob_initial"]
    assert label == "sex" and _rule_pairs(con, sql) == 30
