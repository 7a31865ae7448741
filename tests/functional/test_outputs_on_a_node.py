"""Disclosure control on a refreshed simulated district: outputs from the linked store's
secondary-use views go into the node's own ledger and release folder, checked."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest
from refreshed_district import RefreshedDistrict, refreshed_district

from joinedup.outputs.node import ledger_path, open_output_session, release_dir


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> RefreshedDistrict:
    return refreshed_district(tmp_path_factory)


def test_store_outputs_are_checked_recorded_and_released(district: RefreshedDistrict) -> None:
    node = district.node
    con = duckdb.connect(str(node.store_path), read_only=True)
    try:
        session = open_output_session(node, con, project_id="PRJ-STORE", actor="analyst-1")
        people = con.sql(
            "SELECT person_id, sex, left(birth_month, 4) AS birth_year, lsoa21cd "
            "FROM view__secondary__person"
        )
        table = session.table("sex_by_year", people, by=["sex", "birth_year"])
        absence = con.sql(
            "SELECT person_id, year(term_start) AS year, unauthorised_absence "
            "FROM view__secondary__attendance"
        )
        mean = session.summary("unauthorised", absence, by=["year"], value="unauthorised_absence")
    finally:
        con.close()
    assert table.is_released and mean.is_released
    folder = release_dir(node, "PRJ-STORE")
    with (folder / "sex_by_year.csv").open() as fh:
        rows = [r for r in csv.reader(fh)][1:]
    released = [float(r[-1]) for r in rows if not r[0].startswith("[") and r[-1] != "[suppressed]"]
    assert released and all(v == 0 or (v >= 10 and v % 5 == 0) for v in released)
    results = json.loads((folder / "results.json").read_text())["results"]
    assert {table.release_id, mean.release_id} <= set(results)
    ledger = duckdb.connect(str(ledger_path(node)), read_only=True)
    try:
        (count,) = ledger.execute("SELECT count(*) FROM out__releases").fetchone()  # type: ignore[misc]
    finally:
        ledger.close()
    assert count == 2
    assert not any(Path(folder).glob("*.duckdb"))
