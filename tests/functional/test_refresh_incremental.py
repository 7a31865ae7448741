"""Incremental linkage on refresh: new records arrive, the pair cache serves the rest.

A simulated district (2,500 people, seed 5) is ingested as an earlier snapshot (every 20th row
of each agency extract withheld) and refreshed; then the later, whole snapshot is ingested and
the node refreshed twice from the same state: incrementally (the default) and with ``--full``.

Incremental and full scoring differ in one thing only: the term frequencies. The incremental run
scores new pairs with the frequencies frozen at the last full scoring (names first seen since
take the rarest frozen frequency); ``--full`` recomputes them from today's records. So a pair
whose match weight sits near the threshold can fall on either side, and the two person indexes
may differ by a few records. Measured on this district: 0 to 4 persons differ (about 0.1% of
persons) depending on the trained model; the bound below allows 0.5% of records.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from bench.incremental import persons_by_record
from joinedup.cli.main import main
from joinedup.ingest import ingest_dir, init_node
from joinedup.simulate import SimulationSpec, simulate_district, write_earlier_extracts

PEOPLE = 2_500
SEED = 5


def _refresh(node: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    assert main(["node", "refresh", str(node), "--json", *extra], {}) == 0
    summary: dict[str, object] = json.loads(capsys.readouterr().out)
    return summary


def _linkage_of_last_run(node: Path) -> dict[str, object]:
    con = duckdb.connect(str(node / "store.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT linkage FROM link__runs ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    report: dict[str, object] = json.loads(row[0])["splink-v1"]
    return report


def _report_linkage(
    node: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[dict[str, object], str]:
    """``joinedup link report``'s latest-run pair scoring (JSON) and its HTML page."""
    html = node / "linkage-report.html"
    assert main(["link", "report", str(node), "--out", str(html), "--json"], {}) == 0
    data = json.loads(capsys.readouterr().out)
    linkage: dict[str, object] = data["provenance"]["linkage"]
    return linkage, html.read_text(encoding="utf-8")


def test_incremental_refresh_reuses_pairs_and_agrees_with_full(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    later = tmp_path / "later"
    simulate_district(SimulationSpec(people=PEOPLE, seed=SEED), later)
    earlier = tmp_path / "earlier"
    assert write_earlier_extracts(later, earlier) > 1000
    node = init_node(tmp_path / "node", name="incremental district")
    ingest_dir(node, earlier)

    first = _refresh(node.root, capsys)["stage_reports"]
    assert isinstance(first, dict)
    assert first["splink-v1"]["scoring"] == "full"
    assert first["splink-v1"]["full_because"] == "the model was trained in this refresh"

    ingest_dir(node, later)
    full_root = tmp_path / "node_full"
    shutil.copytree(node.root, full_root)

    incremental = _refresh(node.root, capsys)
    report = incremental["stage_reports"]["splink-v1"]  # type: ignore[index]
    assert report["model"] == "loaded"
    assert report["scoring"] == "incremental"
    assert report["pairs_reused"] > 0.5 * first["splink-v1"]["pairs_newly_scored"]
    assert report["pairs_newly_scored"] > 0
    assert report["profiles_new_or_changed"] > 0
    assert report["profiles_removed"] > 0
    assert _linkage_of_last_run(node.root)["pairs_reused"] == report["pairs_reused"]
    # the linkage report shows the same figures, counts only
    shown, html = _report_linkage(node.root, capsys)
    assert shown["scoring"] == "incremental" and shown["full_because"] is None
    counts = shown["counts"]
    assert isinstance(counts, dict)
    assert counts["pairs_reused"] == report["pairs_reused"] > 0
    assert counts["pairs_newly_scored"] == report["pairs_newly_scored"]
    assert counts["profiles_removed"] == report["profiles_removed"]
    seconds = shown["seconds"]
    assert isinstance(seconds, dict) and seconds["seconds_scoring"] is not None
    assert f'<td class="n">{report["pairs_reused"]:,}</td>' in html
    assert "pairs reused from the pair cache" in html

    full = _refresh(full_root, capsys, "--full")
    full_report = full["stage_reports"]["splink-v1"]  # type: ignore[index]
    assert full_report["scoring"] == "full"
    assert full_report["pairs_reused"] == 0
    # the full run's report still counts what changed since the cache was written
    for key in ("profiles_unchanged", "profiles_new_or_changed", "profiles_removed"):
        assert full_report[key] == report[key], key
    shown, html = _report_linkage(full_root, capsys)
    assert shown["scoring"] == "full"
    assert shown["full_because"] == "a full refresh was asked for"
    assert "full because a full refresh was asked for" in html

    a, b = persons_by_record(node.root), persons_by_record(full_root)
    assert a.keys() == b.keys()
    differ = [k for k in a if a[k] != b[k]]
    print(
        f"incremental {json.dumps(report)}; "
        f"persons incremental {incremental['persons']} full {full['persons']}; "
        f"records whose person differs {len(differ)} of {len(a)}"
    )
    assert len(differ) <= 0.005 * len(a)
    assert abs(int(incremental["persons"]) - int(full["persons"])) <= 0.005 * len(a)  # type: ignore[call-overload]

    capsys.readouterr()
    # the text output names the scoring and its counts
    assert main(["node", "refresh", str(node.root)], {}) == 0
    out = capsys.readouterr().out
    assert "scoring incremental" in out and "pairs reused from the pair cache" in out
