from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa
import pytest
from ingest_extracts import TODAY, valid_rows

from joinedup.identity.sql_functions import register_identity_functions
from joinedup.ingest.validate import build_checks, validate_table
from joinedup.sources import TableSpec, get_contract


def _validate(table: TableSpec, rows: list[dict[str, str | None]], today: date = TODAY):
    con = duckdb.connect()
    register_identity_functions(con)
    data = pa.table(
        {
            "__row": pa.array(range(1, len(rows) + 1), type=pa.int64()),
            **{c: pa.array([r.get(c) for r in rows], type=pa.string()) for c in table.column_names},
        }
    )
    result = validate_table(con, data, table, prefix="t", today=today)
    failures = con.execute(
        "SELECT __row, column_name, rule, action, message FROM t_failures ORDER BY __row, check_id"
    ).fetchall()
    return con, result, failures


# source, table, column, planted value, rule it must break
PLANTED = [
    ("attendance", "attendance", "upn", None, "required"),
    ("attendance", "attendance", "upn", "   ", "required"),
    ("attendance", "attendance", "upn", "A12345678901Z", "upn"),
    ("attendance", "attendance", "sessions", "12.5", "type"),
    ("attendance", "attendance", "sessions", "twelve", "type"),
    ("attendance", "attendance", "sessions", "201", "range"),
    ("attendance", "attendance", "sessions", "-1", "range"),
    ("attendance", "attendance", "term", "WINTER", "code"),
    ("attendance", "attendance", "term", "aut", "code"),
    ("ncmp", "ncmp", "height_cm", "1e3", "type"),
    ("ncmp", "ncmp", "weight_kg", "7.9", "range"),
    ("ncmp", "ncmp", "measurement_date", "2025-02-30", "type"),
    ("ncmp", "ncmp", "measurement_date", "01/03/2025", "type"),
    ("ncmp", "ncmp", "measurement_date", "1989-12-31", "implausible_date"),
    ("ncmp", "ncmp", "measurement_date", "2027-09-01", "implausible_date"),
    ("ncmp", "ncmp", "dob", "2026-09-01", "implausible_date"),
    ("ssda903", "episodes", "DECOM", "2025-10-01", "type"),
]


@pytest.mark.parametrize(("source", "table_name", "column", "value", "rule"), PLANTED)
def test_planted_error_quarantines_exactly_its_row(
    source: str, table_name: str, column: str, value: str | None, rule: str
) -> None:
    table = get_contract(source).table(table_name)
    rows: list[dict[str, str | None]] = [dict(r) for r in valid_rows(table, 4)]
    rows[2][column] = value
    _, result, failures = _validate(table, rows)
    assert (result.read, result.quarantined, result.accepted) == (4, 1, 3)
    assert [(f[0], f[1], f[2], f[3]) for f in failures] == [(3, column, rule, "quarantine")]
    if value and value.strip():
        assert value not in failures[0][4]


FLAGGED = [
    ("ncmp", "ncmp", "nhs_number", "9434765918", "nhs_number"),
    ("ncmp", "ncmp", "postcode", "NOT A POSTCODE", "postcode"),
    ("school_census", "pupilonroll", "ethnicity", "XXXX", "code"),
    ("school_census", "addressesonroll", "uniquepropertyreferencenumber", "12a", "uprn"),
]


@pytest.mark.parametrize(("source", "table_name", "column", "value", "rule"), FLAGGED)
def test_flag_columns_accept_the_row_and_null_the_value(
    source: str, table_name: str, column: str, value: str, rule: str
) -> None:
    table = get_contract(source).table(table_name)
    rows: list[dict[str, str | None]] = [dict(r) for r in valid_rows(table, 3)]
    rows[0][column] = value
    con, result, failures = _validate(table, rows)
    assert (result.read, result.quarantined, result.accepted, result.flagged) == (3, 0, 3, 1)
    assert [(f[0], f[1], f[2], f[3]) for f in failures] == [(1, column, rule, "flag")]
    values = con.execute(f'SELECT "{column}" FROM t_valid ORDER BY __row').fetchall()
    assert values[0] == (None,)
    assert values[1] == (rows[1][column],)


def test_values_are_trimmed_and_valid_rows_pass() -> None:
    table = get_contract("attendance").table("attendance")
    rows: list[dict[str, str | None]] = [dict(r) for r in valid_rows(table, 5)]
    rows[0] = {k: f"  {v}\t" for k, v in rows[0].items()}
    con, result, failures = _validate(table, rows)
    assert failures == []
    assert result.accepted == 5
    assert con.execute("SELECT upn FROM t_valid WHERE __row = 1").fetchone() == (
        rows[1 - 1]["upn"].strip(),  # type: ignore[union-attr]
    )


def test_several_failures_in_one_row_are_all_reported() -> None:
    table = get_contract("attendance").table("attendance")
    rows: list[dict[str, str | None]] = [dict(r) for r in valid_rows(table, 2)]
    rows[1].update({"term": "X", "sessions": "x", "urn": None})
    _, result, failures = _validate(table, rows)
    assert result.quarantined == 1
    assert sorted((f[1], f[2]) for f in failures) == [
        ("sessions", "type"),
        ("term", "code"),
        ("urn", "required"),
    ]


def test_every_check_message_is_free_of_row_values() -> None:
    for contract_name in ("attendance", "ncmp", "school_census", "cin", "ssda903"):
        for table in get_contract(contract_name).tables:
            for check in build_checks(table, TODAY):
                assert check.message and "{" not in check.message
