"""``joinedup node`` and ``joinedup source`` in-process through ``main(args, environ)``."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from joinedup.cli.main import main
from joinedup.simulate import SimulationSpec, simulate_district
from joinedup.sources import CONTRACTS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "ingest"))
from ingest_extracts import valid_rows, write_extract, write_table

from joinedup.sources import get_contract

AS_OF = ["--as-of", "2026-08-31"]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args, {})
    out = capsys.readouterr()
    return code, out.out, " ".join(out.err.split())  # rich wraps long lines


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("district") / "extracts"
    simulate_district(SimulationSpec(people=2_000, seed=11), out)
    return out


def test_init_status_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["node", "init", str(tmp_path / "n"), "--name", "Test", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["name"] == "Test"
    code, _, err = _run(["node", "init", str(tmp_path / "n")], capsys)
    assert code == 5 and "never overwritten" in err
    code, out, _ = _run(["node", "status", str(tmp_path / "n"), "--json"], capsys)
    assert code == 0 and json.loads(out)["batches"] == []
    code, out, _ = _run(["source", "list", "--json"], capsys)
    assert [c["name"] for c in json.loads(out)] == [c.name for c in CONTRACTS]
    code, out, _ = _run(["source", "list"], capsys)
    assert code == 0 and "reference" in out


def test_not_a_node_is_exit_5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["node", "status", str(tmp_path)], capsys)
    assert code == 5 and "not a joinedup node" in err


def test_simulated_district_ingests_and_reconciles_with_truth(
    district: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = str(tmp_path / "node")
    assert _run(["node", "init", node], capsys)[0] == 0
    code, out, _ = _run(["source", "ingest-dir", node, str(district), "--json", *AS_OF], capsys)
    assert code == 0
    results = json.loads(out)
    assert [r["source"] for r in results] == [c.name for c in CONTRACTS]
    with (district / "truth" / "person_map.csv").open(newline="") as handle:
        truth = Counter((row["source"], row["table"]) for row in csv.DictReader(handle))
    for r in results:
        assert r["status"] == "complete", r["error"]
        assert set(r) >= {
            "source",
            "file",
            "status",
            "read",
            "accepted",
            "quarantined",
            "flagged",
            "sha256",
            "tables",
        }
        assert r["accepted"] + r["quarantined"] == r["read"]
        for t in r["tables"]:
            assert t["accepted"] + t["quarantined"] == t["read"]
            assert t["read"] == truth[(r["source"], t["table"])], (r["source"], t["table"])
        # the simulator's noise is realistic, not hostile: most rows are accepted
        assert r["quarantined"] <= 0.02 * r["read"] + 2, r["source"]
    # the same folder again: every extract skipped, nothing changes
    code, out, _ = _run(["source", "ingest-dir", node, str(district), "--json", *AS_OF], capsys)
    assert code == 0 and {r["status"] for r in json.loads(out)} == {"skipped"}
    code, out, _ = _run(["node", "status", node, "--json"], capsys)
    status = json.loads(out)
    assert len(status["batches"]) == len(CONTRACTS)
    assert status["identity_records"] > 2_000
    code, out, _ = _run(["node", "status", node], capsys)
    assert code == 0 and "complete" in out


def test_single_file_ingest_table_and_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = str(tmp_path / "node")
    _run(["node", "init", node], capsys)
    ref = write_extract(get_contract("reference"), tmp_path / "ex", rows=3)
    code, out, _ = _run(["source", "ingest", node, "reference", str(ref), *AS_OF], capsys)
    assert code == 0 and "postcodes" in out and "complete" in out
    # every row quarantined: loaded, but the exit code says so
    table = get_contract("exclusions").tables[0]
    rows = valid_rows(table, 2)
    for row in rows:
        row["category"] = "NOPE"
    path = write_table(tmp_path / "exclusions.csv", table, rows)
    code, out, err = _run(
        ["source", "ingest", node, "exclusions", str(path), "--json", *AS_OF], capsys
    )
    assert code == 5 and json.loads(out)[0]["quarantined"] == 2
    assert "every row quarantined" in err
    # a file-level failure: exit 5 with the reason, no traceback
    bad = tmp_path / "attendance.csv"
    bad.write_text("upn,urn\n")
    code, _, err = _run(["source", "ingest", node, "attendance", str(bad)], capsys)
    assert code == 5 and "missing column" in err and "Traceback" not in err
    # usage errors: unknown source, bad date
    code, _, err = _run(["source", "ingest", node, "nope", str(bad)], capsys)
    assert code == 2 and "unknown source" in err
    code, _, err = _run(
        ["source", "ingest", node, "attendance", str(bad), "--as-of", "soon"], capsys
    )
    assert code == 2 and "--as-of" in err


def test_every_option_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for group, commands in (
        ("node", ("init", "status")),
        ("source", ("list", "ingest", "ingest-dir")),
    ):
        for command in commands:
            code, out, _ = _run([group, command, "--help"], capsys)
            assert code == 0
            for option in ("--json",):
                assert option in out
            assert "Print machine-readable JSON" in out
