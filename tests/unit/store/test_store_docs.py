"""Every column of every store and index table is documented in docs/reference/linked-store.md."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from joinedup.link.refresh import LINK_RUNS_DDL
from joinedup.store.linked import STORE_TABLES, TIMELINE_VIEW, LinkTables, build_store_tables

DOC = Path(__file__).resolve().parents[3] / "docs" / "reference" / "linked-store.md"


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^### (\S+).*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_every_store_and_index_column_is_documented() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE link__record_person (record_key VARCHAR, person_id VARCHAR, "
        "source VARCHAR, table_name VARCHAR, linked_by VARCHAR)"
    )
    con.execute(
        "CREATE TABLE link__subject_person (namespace VARCHAR, subject_key VARCHAR, "
        "person_id VARCHAR)"
    )
    con.execute("CREATE TABLE link__conflicts (person_id VARCHAR, kind VARCHAR, n_distinct BIGINT)")
    con.execute(LINK_RUNS_DDL)
    build_store_tables(con, link=LinkTables(), suffix="")
    from joinedup.store.linked import timeline_sql

    con.execute(f"CREATE VIEW {TIMELINE_VIEW} AS {timeline_sql()}")
    sections = _sections(DOC.read_text())
    tables = [t.name for t in STORE_TABLES] + [
        TIMELINE_VIEW,
        "link__record_person",
        "link__subject_person",
        "link__conflicts",
        "link__runs",
    ]
    missing = []
    for table in tables:
        assert table in sections, f"{table} has no section in {DOC.name}"
        columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        missing += [f"{table}.{c}" for c in columns if f"`{c}`" not in sections[table]]
    assert not missing, "undocumented columns: " + ", ".join(missing)
