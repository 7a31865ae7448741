"""Ground truth: the person map covers every row of every table exactly once."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sim_contract_check import cin_counts, csv_path, csv_tables, read_csv_text

from joinedup.simulate import PLANTED_EFFECTS, SimulationResult
from joinedup.sources import SourceFormat


def test_person_map_covers_every_row_exactly_once(noisy_district: SimulationResult) -> None:
    out = noisy_district.out
    pm = pd.read_csv(out / "truth" / "person_map.csv", dtype={"person_id": str})
    assert not pm.duplicated(["source", "table", "row_number"]).any()
    expected: dict[tuple[str, str], int] = {}
    for contract, table in csv_tables():
        expected[(contract.name, table.name)] = len(read_csv_text(csv_path(out, contract, table)))
    for table, n in cin_counts(out).items():
        expected[("cin", table)] = n
    got = pm.groupby(["source", "table"]).agg(n=("row_number", "size"), top=("row_number", "max"))
    for key, n in expected.items():
        if n == 0:
            assert key not in got.index
            continue
        assert got.loc[key, "n"] == n, key
        assert got.loc[key, "top"] == n, key
    assert set(got.index) <= set(expected)


def test_person_map_points_at_people_or_adults(noisy_district: SimulationResult) -> None:
    out = noisy_district.out
    pm = pd.read_csv(out / "truth" / "person_map.csv", dtype={"person_id": str})
    people = set(pd.read_csv(out / "truth" / "people.csv", usecols=["person_id"])["person_id"])
    person_rows = pm[pm["source"] != "reference"]
    ids = person_rows["person_id"]
    assert ids.notna().all()
    children = ids[ids.str.startswith("P")]
    assert set(children) <= people
    assert set(ids[~ids.str.startswith("P")].str[0]) <= {"M", "A"}
    assert pm.loc[pm["source"] == "reference", "person_id"].isna().all()


def test_effects_file_lists_every_planted_effect(noisy_district: SimulationResult) -> None:
    effects = json.loads((noisy_district.out / "truth" / "effects.json").read_text())
    names = {e["name"] for e in effects["effects"]}
    assert names == {e.name for e in PLANTED_EFFECTS}
    for e in effects["effects"]:
        assert e["source"] and e["tolerance"] > 0
    shares = [s["planted_share"] for s in effects["school_level"]["post16_school_shares"]]
    assert min(shares) == 0.08 and max(shares) == 0.29
    spld = effects["school_level"]["spld_school_effects"].values()
    assert max(spld) / min(spld) == pytest.approx(3.0, rel=0.01)
    assert "social_care" in effects


def test_summary_rows_match_files(noisy_district: SimulationResult) -> None:
    out = noisy_district.out
    for e in noisy_district.extracts:
        if e.source == "cin":
            assert e.rows == cin_counts(out)[e.table]
        else:
            assert e.rows == len(read_csv_text(out / e.path))
    kinds = {c.format for c, _ in csv_tables()}
    assert SourceFormat.CSV in kinds
