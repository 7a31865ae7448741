"""Secondary-use views: the linked store without the children whose families opted out.

At every refresh, inside the publish transaction, ``publish_secondary_views`` reads the node's
dissent register (``govern__dissent`` in ``govern.duckdb``, written by ``joinedup.govern``)
less the opt-outs a family has since withdrawn (``govern__dissent_withdrawals``: an opt-out is in
force unless a withdrawal for the same child key was recorded at or after it), matches each
entry to a person through ``link__subject_person`` (the register holds the same keyed
pseudonyms the person index uses: ``nhs_dob`` for NHS number + date of birth, ``upn`` for a
UPN), writes the matched person ids to ``secondary__excluded_persons`` and recreates one
view per store table::

    view__secondary__<table>  =  store__<table> minus the excluded persons

Planning, population health, research and evaluation read only these views; direct care reads
``store__*``, which stays whole.

Invariants:
- no opt-out flag is ever a column of a child's row: exclusion is an anti-join on a separate
  table of person pseudonyms;
- an entry or a withdrawal recorded after a refresh takes effect at the next refresh (never
  half-way): a withdrawn child is back in every secondary view from then on;
- if the register exists but cannot be read, the refresh fails: a secondary view is never built
  without the opt-outs applied;
- a doubt is resolved towards exclusion: a UPN entry excludes every person holding that UPN key,
  whatever month of birth the store gives the person (records are noisy: a person split off by
  a mistyped date of birth still carries the child's UPN, and an opt-out that silently missed
  them would break the family's wish; excluding one more person costs the statistics little);
- the register and the excluded table hold pseudonyms and months only, never an identifier.
"""

# SQL here is assembled from this module's own constants (table and column names), never
# from values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from joinedup.store.linked import STORE_TABLES, TIMELINE_VIEW
from joinedup.store.schema import quote_identifier

GOVERN_FILE = "govern.duckdb"
DISSENT_TABLE = "govern__dissent"
EXCLUDED_TABLE = "secondary__excluded_persons"
SECONDARY_PREFIX = "view__secondary__"

DISSENT_DDL = (
    f"CREATE TABLE IF NOT EXISTS {DISSENT_TABLE} ("
    "optout_id VARCHAR PRIMARY KEY, namespace VARCHAR NOT NULL, subject_key VARCHAR NOT NULL, "
    "birth_month VARCHAR NOT NULL, identified_by VARCHAR NOT NULL, "
    "requested_by VARCHAR NOT NULL, recorded_by VARCHAR NOT NULL, "
    "recorded_at TIMESTAMP NOT NULL)"
)

WITHDRAWAL_TABLE = "govern__dissent_withdrawals"

WITHDRAWAL_DDL = (
    f"CREATE TABLE IF NOT EXISTS {WITHDRAWAL_TABLE} ("
    "withdrawal_id VARCHAR PRIMARY KEY, namespace VARCHAR NOT NULL, "
    "subject_key VARCHAR NOT NULL, identified_by VARCHAR NOT NULL, "
    "requested_by VARCHAR NOT NULL, recorded_by VARCHAR NOT NULL, "
    "withdrawn_at TIMESTAMP NOT NULL)"
)

# The opt-outs in force: those no later withdrawal of the same child key cancels.
IN_FORCE_SQL = (
    f"SELECT d.* FROM {DISSENT_TABLE} d WHERE NOT EXISTS (SELECT 1 FROM {WITHDRAWAL_TABLE} w "
    "WHERE w.namespace = d.namespace AND w.subject_key = d.subject_key "
    "AND w.withdrawn_at >= d.recorded_at)"
)

DissentKey = tuple[str, str, str]  # (namespace, subject_key, birth_month)


def secondary_view_name(store_table: str) -> str:
    """``store__enrolment`` -> ``view__secondary__enrolment``."""
    return SECONDARY_PREFIX + store_table.removeprefix("store__")


def secondary_views() -> dict[str, str]:
    """Every secondary view and the store table or view it filters."""
    names = [*(t.name for t in STORE_TABLES), TIMELINE_VIEW]
    return {secondary_view_name(n): n for n in names}


def _connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    # govern.duckdb is held only for a moment by each writer; wait for it rather than fail
    deadline = time.monotonic() + 10.0
    while True:
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def read_dissent_register(node_root: Path) -> list[DissentKey]:
    """The match keys of the opt-outs in force (none withdrawn since); empty when the node has
    no governance database yet."""
    path = node_root / GOVERN_FILE
    if not path.is_file():
        return []
    con = _connect_read_only(path)
    try:
        tables = {
            str(r[0])
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE table_name IN (?, ?)",
                [DISSENT_TABLE, WITHDRAWAL_TABLE],
            ).fetchall()
        }
        if DISSENT_TABLE not in tables:
            return []
        source = IN_FORCE_SQL if WITHDRAWAL_TABLE in tables else f"SELECT * FROM {DISSENT_TABLE}"
        rows = con.execute(
            f"SELECT DISTINCT namespace, subject_key, birth_month FROM ({source})"
        ).fetchall()
    finally:
        con.close()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def publish_secondary_views(con: duckdb.DuckDBPyConnection, dissent: list[DissentKey]) -> int:
    """Rebuild ``secondary__excluded_persons`` and every ``view__secondary__*`` on ``con``
    (run inside the refresh's publish transaction, after the new tables are in place).
    Returns the number of persons excluded."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE secondary_dissent_keys "
        "(namespace VARCHAR, subject_key VARCHAR, birth_month VARCHAR)"
    )
    if dissent:
        con.executemany("INSERT INTO secondary_dissent_keys VALUES (?, ?, ?)", dissent)
    # nhs_dob keys carry the full date of birth; a UPN key alone excludes (see the invariants)
    con.execute(
        f"CREATE OR REPLACE TABLE {EXCLUDED_TABLE} AS "
        "SELECT DISTINCT sp.person_id FROM secondary_dissent_keys d "
        "JOIN link__subject_person sp "
        "  ON sp.namespace = d.namespace AND sp.subject_key = d.subject_key "
        "ORDER BY sp.person_id"
    )
    for view, source in secondary_views().items():
        con.execute(
            f"CREATE OR REPLACE VIEW {quote_identifier(view)} AS "
            f"SELECT * FROM {quote_identifier(source)} t WHERE NOT EXISTS "
            f"(SELECT 1 FROM {EXCLUDED_TABLE} e WHERE e.person_id = t.person_id)"
        )
    con.execute("DROP TABLE secondary_dissent_keys")
    row = con.execute(f"SELECT count(*) FROM {EXCLUDED_TABLE}").fetchone()
    return 0 if row is None else int(row[0])
