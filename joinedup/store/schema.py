"""Store tables written by ingest: provenance (``ingest__*``), raw extracts and reference data.

- ``ingest__batches``: one row per load of one extract (status ``in_progress`` until the load has
  finished; a batch left ``in_progress`` by a crash is swept away on the next load);
- ``ingest__file_counts``: per batch and table: read, accepted, quarantined, flagged;
- ``ingest__quarantine_reasons``: why a row was quarantined (``action = 'quarantine'``) or a value
  flagged (``action = 'flag'``): row number, column, rule and a message, never a value;
- ``raw__<source>__<table>``: the accepted rows of a contract table, de-identified;
- ``ref__<table>``: reference tables (LSOA, schools, GP practices) as given, latest load only.

This module knows nothing of source contracts (the store sits below them): callers pass the typed
column list. Invariants: identifiers are quoted by ``quote_identifier`` only; values are bound.
"""

# SQL here is generated from contracts: identifiers go through quote_identifier (or fixed
# names), contract constants are escaped literals, and row values are always bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb

_NAME_PART = re.compile(r"[a-z][a-z0-9_]{0,62}")
SQL_TYPES = frozenset({"VARCHAR", "BIGINT", "DOUBLE", "DATE", "TIMESTAMP", "BOOLEAN"})

_INGEST_DDL = (
    "CREATE TABLE IF NOT EXISTS ingest__batches ("
    "batch_id VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, file_name VARCHAR NOT NULL, "
    "sha256 VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, "
    "status VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ingest__file_counts ("
    "batch_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL, read BIGINT NOT NULL, "
    "accepted BIGINT NOT NULL, quarantined BIGINT NOT NULL, flagged BIGINT NOT NULL, "
    "PRIMARY KEY (batch_id, table_name))",
    "CREATE TABLE IF NOT EXISTS ingest__quarantine_reasons ("
    "batch_id VARCHAR NOT NULL, source VARCHAR NOT NULL, table_name VARCHAR NOT NULL, "
    "row_number BIGINT NOT NULL, column_name VARCHAR, rule VARCHAR NOT NULL, "
    "message VARCHAR NOT NULL, action VARCHAR NOT NULL)",
)

RAW_KEY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("batch_id", "VARCHAR NOT NULL"),
    ("row_number", "BIGINT NOT NULL"),
    ("record_key", "VARCHAR"),
    ("subject_key", "VARCHAR"),
)
REF_KEY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("batch_id", "VARCHAR NOT NULL"),
    ("row_number", "BIGINT NOT NULL"),
)


def quote_identifier(name: str) -> str:
    """The one way a table or column name enters SQL: double-quoted, quotes doubled."""
    if "\x00" in name:
        raise ValueError("an SQL identifier cannot hold a NUL character")
    return '"' + name.replace('"', '""') + '"'


def _check_part(part: str) -> None:
    if not _NAME_PART.fullmatch(part):
        raise ValueError("source and table names must be lower-case letters, digits, underscores")


def raw_table_name(source: str, table: str) -> str:
    """``raw__<source>__<table>`` (unquoted)."""
    _check_part(source)
    _check_part(table)
    return f"raw__{source}__{table}"


def ref_table_name(table: str) -> str:
    """``ref__<table>`` (unquoted)."""
    _check_part(table)
    return f"ref__{table}"


def create_ingest_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``ingest__*`` tables on ``con`` (its current database) if absent."""
    for statement in _INGEST_DDL:
        con.execute(statement)


def _create_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    key_columns: Sequence[tuple[str, str]],
    columns: Sequence[tuple[str, str]],
) -> str:
    seen = {n for n, _ in key_columns}
    for column, sql_type in columns:
        if sql_type not in SQL_TYPES:
            raise ValueError(f"column {column!r} of {name}: unsupported type {sql_type!r}")
        if column in seen:
            raise ValueError(f"column {column!r} appears twice in {name}")
        seen.add(column)
    body = ", ".join(
        [f"{quote_identifier(n)} {t}" for n, t in key_columns]
        + [f"{quote_identifier(n)} {t}" for n, t in columns]
    )
    con.execute(f"CREATE TABLE IF NOT EXISTS {quote_identifier(name)} ({body})")
    return name


def create_raw_table(
    con: duckdb.DuckDBPyConnection, source: str, table: str, columns: Sequence[tuple[str, str]]
) -> str:
    """Create ``raw__<source>__<table>`` with the key columns then ``columns`` (name, SQL type).

    Returns the (unquoted) table name. ``columns`` are the contract's non-identity columns, typed,
    then the coarsened identity columns the table has (birth_month, sex, lsoa21cd).
    """
    return _create_table(con, raw_table_name(source, table), RAW_KEY_COLUMNS, columns)


def create_ref_table(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[tuple[str, str]]
) -> str:
    """Create ``ref__<table>`` (batch_id, row_number, then ``columns``); returns its name."""
    return _create_table(con, ref_table_name(table), REF_KEY_COLUMNS, columns)


def remove_store_batch(
    con: duckdb.DuckDBPyConnection, batch_id: str, tables: Sequence[str]
) -> None:
    """Delete every store row one batch wrote to ``tables`` and the ``ingest__*`` tables."""
    existing = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    }
    for name in tables:
        if name in existing:
            con.execute(f"DELETE FROM {quote_identifier(name)} WHERE batch_id = ?", [batch_id])
    con.execute("DELETE FROM ingest__quarantine_reasons WHERE batch_id = ?", [batch_id])
    con.execute("DELETE FROM ingest__file_counts WHERE batch_id = ?", [batch_id])
    con.execute("DELETE FROM ingest__batches WHERE batch_id = ?", [batch_id])
