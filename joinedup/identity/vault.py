"""The identity vault's tables (``vault.duckdb``): the only place direct identifiers are kept.

Tables (interface D):

- ``vault__identities``: one row per identity record, identifiers as recorded and normalised;
- ``vault__keys``: the pseudonymised keys (UPN, NHS number, local ids) each record exposes;
- ``vault__postcode_lsoa``: a view of postcode → LSOA 2021 from the reference extract, built over
  ``vault__postcode_lsoa_history`` so that a failed reference load can be undone exactly;
- ``quarantine__<source>``: held-back rows with their raw values (allowed here only).

Invariants: every row carries the ``batch_id`` that wrote it, so a batch can be removed whole;
table names are fixed or built from a source name checked by ``quarantine_table_name``.
"""

# SQL here is generated from contracts: identifiers go through quote_identifier (or fixed
# names), contract constants are escaped literals, and row values are always bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import re

import duckdb

IDENTITY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("record_key", "VARCHAR PRIMARY KEY"),
    ("batch_id", "VARCHAR NOT NULL"),
    ("source", "VARCHAR NOT NULL"),
    ("table_name", "VARCHAR NOT NULL"),
    ("row_number", "BIGINT NOT NULL"),
    ("local_id", "VARCHAR"),
    ("given_name", "VARCHAR"),
    ("middle_names", "VARCHAR"),
    ("family_name", "VARCHAR"),
    ("former_family_name", "VARCHAR"),
    ("preferred_family_name", "VARCHAR"),
    ("given_name_norm", "VARCHAR"),
    ("family_name_norm", "VARCHAR"),
    ("date_of_birth", "DATE"),
    ("sex", "VARCHAR"),
    ("nhs_number", "VARCHAR"),
    ("upn", "VARCHAR"),
    ("former_upn", "VARCHAR"),
    ("postcode", "VARCHAR"),
    ("uprn", "VARCHAR"),
    ("address", "VARCHAR"),
)

_DDL = (
    "CREATE TABLE IF NOT EXISTS vault__identities ("
    + ", ".join(f"{name} {sql_type}" for name, sql_type in IDENTITY_COLUMNS)
    + ")",
    "CREATE TABLE IF NOT EXISTS vault__keys ("
    "record_key VARCHAR NOT NULL, namespace VARCHAR NOT NULL, subject_key VARCHAR NOT NULL, "
    "batch_id VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vault__postcode_lsoa_history ("
    "postcode VARCHAR NOT NULL, lsoa21cd VARCHAR NOT NULL, batch_id VARCHAR NOT NULL, "
    "loaded_at TIMESTAMP NOT NULL, PRIMARY KEY (postcode, batch_id))",
    # The latest load of each postcode wins.
    "CREATE OR REPLACE VIEW vault__postcode_lsoa AS "
    "SELECT postcode, arg_max(lsoa21cd, loaded_at) AS lsoa21cd "
    "FROM vault__postcode_lsoa_history GROUP BY postcode",
)

_SOURCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def create_vault_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the vault's fixed tables on ``con`` (its current database) if they are absent."""
    for statement in _DDL:
        con.execute(statement)


def quarantine_table_name(source: str) -> str:
    """The quoted name of a source's quarantine table; ValueError for an unsafe source name."""
    if not _SOURCE_NAME.fullmatch(source):
        raise ValueError("a source name must be lower-case letters, digits and underscores")
    return f'"quarantine__{source}"'


def create_quarantine_table(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """Create ``quarantine__<source>`` if absent; returns its quoted name."""
    name = quarantine_table_name(source)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {name} (batch_id VARCHAR NOT NULL, "
        "table_name VARCHAR NOT NULL, row_number BIGINT NOT NULL, row_json VARCHAR)"
    )
    return name


def remove_vault_batch(con: duckdb.DuckDBPyConnection, batch_id: str, source: str) -> None:
    """Delete every vault row one batch wrote (in the caller's transaction, if any)."""
    con.execute(
        "DELETE FROM vault__keys WHERE record_key IN "
        "(SELECT record_key FROM vault__identities WHERE batch_id = ?)",
        [batch_id],
    )
    con.execute("DELETE FROM vault__keys WHERE batch_id = ?", [batch_id])
    con.execute("DELETE FROM vault__identities WHERE batch_id = ?", [batch_id])
    con.execute("DELETE FROM vault__postcode_lsoa_history WHERE batch_id = ?", [batch_id])
    name = create_quarantine_table(con, source)
    con.execute(f"DELETE FROM {name} WHERE batch_id = ?", [batch_id])
