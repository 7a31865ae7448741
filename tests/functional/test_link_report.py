"""``joinedup link report``: the linkage quality report of a simulated district, end to end.

The HTML page is aggregate: it is scanned for every name, NHS number, UPN, postcode and date of
birth of the extracts (whole text cells for names, patterns anywhere for the identifiers), the
way tests/functional/test_no_identifiers_in_store.py scans the store.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from refreshed_district import RefreshedDistrict, refreshed_district

from joinedup.cli.main import main
from joinedup.ingest.readers import read_extract
from joinedup.model import IdentityRole as R
from joinedup.sources import CONTRACTS

NAME_ROLES = {
    R.GIVEN_NAME,
    R.MIDDLE_NAMES,
    R.FAMILY_NAME,
    R.FORMER_FAMILY_NAME,
    R.PREFERRED_FAMILY_NAME,
    R.ADDRESS,
}
SYMBOLS = {"=", "~", "x", "-"}


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> RefreshedDistrict:
    return refreshed_district(tmp_path_factory)


@pytest.fixture(scope="module")
def written(
    district: RefreshedDistrict, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, object]]:
    out = tmp_path_factory.mktemp("report")
    html, js = out / "report.html", out / "report.json"
    code = main(
        [
            "link",
            "report",
            str(district.node.root),
            "--truth",
            str(district.extracts / "truth"),
            "--out",
            str(html),
            "--json-out",
            str(js),
        ],
        {},
    )
    assert code == 0
    return html.read_text(encoding="utf-8"), json.loads(js.read_text(encoding="utf-8"))


def _needles(extracts: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {
        "name": set(),
        "nhs": set(),
        "upn": set(),
        "postcode": set(),
        "dob": set(),
    }
    for contract in CONTRACTS:
        path = extracts / contract.file_name
        if not path.exists() or contract.name == "reference":
            continue
        for staged in read_extract(contract, path):
            for column in staged.table.columns:
                if column.identity is None:
                    continue
                values = [str(v).strip() for v in staged.data[column.name].to_pylist() if v]
                values = [v for v in values if v]
                if column.identity in NAME_ROLES:
                    found["name"] |= {v.upper() for v in values if not v.isdigit()}
                elif column.identity is R.NHS_NUMBER:
                    found["nhs"] |= {v.replace(" ", "") for v in values}
                elif column.identity in (R.UPN, R.FORMER_UPN):
                    found["upn"] |= {v.upper() for v in values}
                elif column.identity is R.POSTCODE:
                    found["postcode"] |= {"".join(v.split()).upper() for v in values}
                elif column.identity is R.DATE_OF_BIRTH:
                    for v in values:
                        found["dob"].add(v)
                        try:
                            d = datetime.strptime(v, column.date_format).date()
                        except ValueError:
                            continue
                        found["dob"] |= {d.isoformat(), d.strftime("%d/%m/%Y")}
    assert all(found.values())
    return found


def test_html_holds_no_identifier(district: RefreshedDistrict, written: tuple[str, dict]) -> None:
    html, _ = written
    needles = _needles(district.extracts)
    body = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    cells = [c.strip() for c in re.findall(r">([^<]+)<", body) if c.strip()]
    assert len(cells) > 500  # the page has its tables
    text = "\n".join(cells)
    hits = [c for c in cells if c.upper() in needles["name"]]
    hits += [t for t in re.findall(r"\b\d{10}\b", text.replace(" ", "")) if t in needles["nhs"]]
    hits += [t for t in re.findall(r"\b[A-Z]\d{11}[0-9A-Z]\b", text) if t in needles["upn"]]
    hits += [
        t.replace(" ", "")
        for t in re.findall(r"\b[A-Z]{1,2}\d[0-9A-Z]? ?\d[A-Z]{2}\b", text)
        if t.replace(" ", "") in needles["postcode"]
    ]
    hits += [
        t for t in re.findall(r"\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}", text) if t in needles["dob"]
    ]
    assert not hits, f"identifiers in the report: {len(hits)} (e.g. kinds {set(map(len, hits))})"


def test_html_is_self_contained_and_accessible(written: tuple[str, dict]) -> None:
    html, _ = written
    assert "<script" not in html
    assert not re.search(r'(src|href)="https?:', html)
    assert '<html lang="en">' in html
    figures = re.findall(r'<figure role="img" aria-label="([^"]+)"><svg', html)
    assert len(figures) >= 5 and all(len(alt) > 40 for alt in figures)
    assert html.count("<caption>") >= 10
    assert "Latest run&#x27;s pair scoring" in html
    for section in (
        "inputs",
        "blocking",
        "weights",
        "estimates",
        "subgroups",
        "audits",
        "clusters",
        "provenance",
    ):
        assert f'id="{section}"' in html


def test_json_report_scores_against_truth(written: tuple[str, dict]) -> None:
    _, data = written
    truth = data["truth_overall"]
    assert truth["precision"]["value"] > 0.99
    assert 0.8 < truth["recall"]["value"] < 0.995
    assert truth["precision"]["low"] <= truth["precision"]["value"] <= truth["precision"]["high"]
    pairs = data["truth_by_source_pair"]
    assert sum(p["true_pairs"] for p in pairs) == truth["true_pairs"]
    assert sum(p["predicted_pairs"] for p in pairs) == truth["predicted_pairs"]
    kinds = {s["kind"] for s in data["subgroups"]}
    assert kinds == {"ethnic_group", "eal", "imd_quintile", "n_moves", "is_cla", "adopted"}
    for s in data["subgroups"]:
        for key in ("link_rate", "missed_link_rate", "false_link_rate", "recall"):
            rate = s[key]
            if rate["value"] is not None:
                assert rate["low"] <= rate["value"] <= rate["high"]
    lf = data["label_free"]
    assert 0 < lf["expected_precision"] <= 1 and 0 < lf["expected_recall"] <= 1
    # the linkage model's own estimates (the Splink stage scored pairs) are near the truth:
    # links on identifiers are taken as right, so its precision sits close to the true one
    assert data["provenance"]["linkage"]["scoring"] == "full"
    assert lf["model_expected_false_pairs"] >= 0 and lf["model_expected_missed_pairs"] >= 0
    assert abs(lf["model_expected_precision"] - truth["precision"]["value"]) < 0.005
    assert 0 < lf["model_expected_recall"] <= 1
    assert {b["rule"] for b in data["blocking"]} >= {"nhs_dob", "upn", "name_dob_sex"}
    assert data["false_match_audit"] and data["missed_match_audit"]
    for pair in data["false_match_audit"] + data["missed_match_audit"]:
        assert set(pair["pattern"].values()) <= SYMBOLS
        assert re.fullmatch(r"[0-9a-f]{32}", pair["record_key_a"])
    fields = {q["field"] for q in data["inputs"]}
    assert fields == {
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "nhs_number",
        "upn",
        "postcode",
    }
    assert data["provenance"]["method"]
    linkage = data["provenance"]["linkage"]  # the latest run's pair scoring, counts only
    assert linkage["scoring"] in ("full", "incremental")
    # a full scoring counts no profiles gone; every other figure is a count
    assert all(v is None or isinstance(v, int) for v in linkage["counts"].values())
    assert isinstance(linkage["counts"]["pairs_newly_scored"], int)


def test_report_without_truth_uses_store_subgroups(
    district: RefreshedDistrict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["link", "report", str(district.node.root), "--out", str(tmp_path / "r.html"), "--json"],
        {},
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["truth_overall"] is None
    assert {s["kind"] for s in data["subgroups"]} == {"ethnicity", "eal", "imd_quintile"}
    assert all(s["missed_link_rate"] is None for s in data["subgroups"])
    assert (tmp_path / "r.html").is_file()
