from __future__ import annotations

import duckdb
import pytest

from joinedup.identity.vault import (
    IDENTITY_COLUMNS,
    create_quarantine_table,
    create_vault_tables,
    quarantine_table_name,
    remove_vault_batch,
)


def test_vault_tables_follow_interface_d() -> None:
    con = duckdb.connect()
    create_vault_tables(con)
    create_vault_tables(con)  # idempotent
    columns = [r[0] for r in con.execute("DESCRIBE vault__identities").fetchall()]
    assert columns == [name for name, _ in IDENTITY_COLUMNS]
    assert columns[:6] == [
        "record_key",
        "batch_id",
        "source",
        "table_name",
        "row_number",
        "local_id",
    ]
    lookup = [r[0] for r in con.execute("DESCRIBE vault__postcode_lsoa").fetchall()]
    assert lookup == ["postcode", "lsoa21cd"]


def test_latest_postcode_load_wins_and_a_batch_can_be_removed() -> None:
    con = duckdb.connect()
    create_vault_tables(con)
    con.execute(
        "INSERT INTO vault__postcode_lsoa_history VALUES "
        "('BD7 1AB', 'E1', 'b1', TIMESTAMP '2026-01-01'), "
        "('BD7 1AB', 'E2', 'b2', TIMESTAMP '2026-02-01')"
    )
    assert con.execute("SELECT lsoa21cd FROM vault__postcode_lsoa").fetchall() == [("E2",)]
    remove_vault_batch(con, "b2", "reference")
    assert con.execute("SELECT lsoa21cd FROM vault__postcode_lsoa").fetchall() == [("E1",)]


@pytest.mark.parametrize("source", ["x; DROP TABLE t", "Upper", "", "a" * 80, 'a"b'])
def test_unsafe_source_names_are_refused(source: str) -> None:
    with pytest.raises(ValueError):
        quarantine_table_name(source)


def test_quarantine_table() -> None:
    con = duckdb.connect()
    assert create_quarantine_table(con, "school_census") == '"quarantine__school_census"'
    columns = [r[0] for r in con.execute("DESCRIBE quarantine__school_census").fetchall()]
    assert columns == ["batch_id", "table_name", "row_number", "row_json"]
