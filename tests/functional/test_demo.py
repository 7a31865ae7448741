"""``joinedup demo`` end to end, in-process through ``main(args, environ)``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from joinedup.cli.main import main


def test_demo_builds_a_node_and_reports_reconciled_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    code = main(
        ["demo", "--dir", str(folder), "--people", "1500", "--seed", "3", "--json", "--no-serve"],
        {},
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert (folder / "node" / "store.duckdb").is_file()
    assert (folder / "extracts" / "truth" / "person_map.csv").is_file()
    totals = report["ingest_totals"]
    assert totals["read"] > 10_000
    assert totals["accepted"] + totals["quarantined"] == totals["read"]
    for item in report["ingest"]:
        assert item["status"] == "complete"
        assert item["accepted"] + item["quarantined"] == item["read"]
    assert report["refresh"]["persons"] > 1000
    assert report["person_index_vs_truth"]["precision"] > 0.99


def test_demo_rebuilds_its_own_folder_but_refuses_a_foreign_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["demo", "--dir", str(foreign), "--people", "200", "--json", "--no-serve"], {}) == 2
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert "not made by `joinedup demo`" in capsys.readouterr().err

    own = tmp_path / "again"
    for _ in range(2):
        assert (
            main(
                [
                    "demo",
                    "--dir",
                    str(own),
                    "--people",
                    "200",
                    "--seed",
                    "1",
                    "--json",
                    "--no-serve",
                ],
                {},
            )
            == 0
        )
    capsys.readouterr()
