"""``joinedup source quarantine``: the reasons a data engineer works from, without values."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from joinedup.cli.main import main

PLANTED_NAME = "Zebedeeqq"


@pytest.fixture()
def node_with_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    node = tmp_path / "node"
    assert main(["node", "init", str(node)], {}) == 0
    ks2 = tmp_path / "ks2.csv"
    header = (
        "upn,surname,forename,dob,sex,urn,academicyear,read_scaled,read_status,mat_scaled,"
        "mat_status,gps_scaled,gps_status,writ_ta,sci_ta"
    )
    good = f"B801200005001,{PLANTED_NAME},Amy,2014-03-02,F,123456,2024/25,101,,99,,104,,EXS,EXS"
    bad_dob = f"B801200005001,{PLANTED_NAME},Amy,02/03/2014,F,123456,2024/25,101,,99,,104,,EXS,EXS"
    bad_code = f"B801200005001,{PLANTED_NAME},Amy,2014-03-02,X,123456,2024/25,101,,99,,104,,ZZZ,EXS"
    ks2.write_text("\n".join([header, good, bad_dob, bad_code, good]) + "\n")
    assert main(["source", "ingest", str(node), "ks2", str(ks2), "--json"], {}) == 0
    capsys.readouterr()
    return node


def test_report_counts_rules_and_names_rows_but_never_values(
    node_with_bad_rows: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_csv = tmp_path / "reasons.csv"
    code = main(
        ["source", "quarantine", str(node_with_bad_rows), "--json", "--csv", str(out_csv)], {}
    )
    assert code == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert {r["row_number"] for r in report["reasons"]} == {2, 3}
    assert {(r["column"], r["row_number"]) for r in report["reasons"]} >= {("dob", 2), ("sex", 3)}
    assert report["total"] == sum(c["rows"] for c in report["counts"]) >= 3
    with out_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == report["total"]
    for text in (captured.out, captured.err, out_csv.read_text()):
        assert PLANTED_NAME not in text
        assert "02/03/2014" not in text and "ZZZ" not in text


def test_filters_and_bad_action(
    node_with_bad_rows: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = str(node_with_bad_rows)
    assert main(["source", "quarantine", node, "--source", "eyfsp", "--json"], {}) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 0
    assert main(["source", "quarantine", node, "--action", "everything"], {}) == 2
    assert "--action" in capsys.readouterr().err
