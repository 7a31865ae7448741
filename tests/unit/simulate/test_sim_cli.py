"""The ``joinedup simulate`` command, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from joinedup.cli.main import main


def test_simulate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d"
    code = main(["simulate", "--people", "800", "--seed", "2", "--out", str(out), "--json"], {})
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["people"] == 800
    assert {e["source"] for e in report["extracts"]} >= {"school_census", "gp_events", "police"}
    assert (out / "truth" / "person_map.csv").is_file()


def test_simulate_rejects_a_bad_date(tmp_path: Path) -> None:
    assert main(["simulate", "--out", str(tmp_path), "--as-of", "31/08/2026"], {}) == 2
