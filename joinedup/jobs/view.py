"""The project view: a fresh DuckDB file holding only what a job may read.

``build_project_view`` copies, from a source database (the node's store, or a synthetic twin),
each view the job declared with only its declared columns plus ``person_id``. Inside a node
the source tables are the ``view__secondary__*`` views, so children whose families opted out
are already absent. The file is written once and then made read-only.

Invariants: the view holds no table, view or column the job did not declare (and the parent
has checked against the project's approved variables); a missing view or column is a clear
error, never a silent omission.
"""

# SQL here is built from quoted identifiers checked by ``joinedup.jobs.spec``; hence S608 is off.
# ruff: noqa: S608

from __future__ import annotations

import stat
from pathlib import Path

import duckdb

from joinedup.errors import UsageError
from joinedup.research.spool import PERSON
from joinedup.store.schema import quote_identifier
from joinedup.store.secondary import SECONDARY_PREFIX

SOURCE = "src"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _names_in(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
        "UNION SELECT view_name FROM duckdb_views() WHERE database_name = ?",
        [SOURCE, SOURCE],
    ).fetchall()
    return {str(r[0]) for r in rows}


def _source_name(view: str, present: set[str], *, twin: bool) -> str | None:
    """The table holding ``view`` in the source. A twin may name it as the store does
    (``store__person``) or plainly (``person``)."""
    if view in present:
        return view
    if twin:
        short = view.removeprefix(SECONDARY_PREFIX)
        for candidate in (f"store__{short}", short):
            if candidate in present:
                return candidate
    return None


def build_project_view(
    *,
    source: Path,
    views: dict[str, tuple[str, ...]],
    target: Path,
    twin: bool = False,
    config: dict[str, str | bool | int | float | list[str]] | None = None,
) -> dict[str, int]:
    """Write ``target`` with the declared ``views``; returns rows per view."""
    if target.exists():
        raise UsageError(f"{target} already exists")
    if not source.is_file():
        what = "synthetic twin" if twin else "linked store"
        raise UsageError(f"no {what} at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(target), config=config or {})
    counts: dict[str, int] = {}
    try:
        con.execute(f"ATTACH {_sql_string(str(source))} AS {SOURCE} (READ_ONLY)")
        present = _names_in(con)
        for view, columns in views.items():
            name = _source_name(view, present, twin=twin)
            if name is None:
                raise UsageError(f"the data has no view {view}")
            have = {
                d[0]
                for d in con.execute(
                    f"SELECT * FROM {SOURCE}.{quote_identifier(name)} LIMIT 0"
                ).description
            }
            missing = sorted({PERSON, *columns} - have)
            if missing:
                raise UsageError(f"{view} has no column(s): {', '.join(missing)}")
            select = ", ".join(quote_identifier(c) for c in (PERSON, *columns))
            con.execute(
                f"CREATE TABLE {quote_identifier(view)} AS SELECT {select} "
                f"FROM {SOURCE}.{quote_identifier(name)}"
            )
            row = con.execute(f"SELECT count(*) FROM {quote_identifier(view)}").fetchone()
            counts[view] = int(row[0]) if row else 0
        con.execute(f"DETACH {SOURCE}")
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        target.unlink(missing_ok=True)
        raise
    con.close()
    target.chmod(stat.S_IRUSR | stat.S_IRGRP)
    return counts
