"""The project view: a fresh DuckDB file holding only what a job may read.

``build_project_view`` copies, from a source database (the node's store, or a synthetic twin),
each view the job declared with only its declared columns plus ``person_id``. Inside a node
the source tables are the ``view__secondary__*`` views, so children whose families opted out
are already absent. With a ``cohort`` (the project's approved ``CohortSpec``), the children in
it are selected first (from the same secondary views, so opted-out children never enter) into
a temporary table, and every declared view keeps only their rows: the person view and every
event view alike. The file is written once and then made read-only.

Invariants: the view holds no table, view or column the job did not declare (and the parent
has checked against the project's approved variables); a missing view or column is a clear
error, never a silent omission; with a cohort, no row of a child outside it is in any table
(the cohort's own temporary table is not in the file).
"""

# SQL here is built from quoted identifiers checked by ``joinedup.jobs.spec``; hence S608 is off.
# ruff: noqa: S608

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

import duckdb

from joinedup.errors import UsageError
from joinedup.govern.cohort import CohortSpec, cohort_sql
from joinedup.research.spool import PERSON
from joinedup.store.schema import quote_identifier
from joinedup.store.secondary import SECONDARY_PREFIX, secondary_view_name

SOURCE = "src"
COHORT_TABLE = "temp.main.project_cohort"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectViewResult:
    rows: dict[str, int]  # rows per declared view
    persons: int | None  # children in the cohort (None when no cohort was applied)


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
    cohort: CohortSpec | None = None,
) -> ProjectViewResult:
    """Write ``target`` with the declared ``views`` (only ``cohort``'s children, if given)."""
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
        persons: int | None = None
        keep = ""
        if cohort is not None:
            persons = _select_cohort(con, cohort, present, twin=twin)
            keep = f" WHERE {quote_identifier(PERSON)} IN (SELECT person_id FROM {COHORT_TABLE})"
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
                f"FROM {SOURCE}.{quote_identifier(name)}{keep}"
            )
            row = con.execute(f"SELECT count(*) FROM {quote_identifier(view)}").fetchone()
            counts[view] = int(row[0]) if row else 0
        con.execute(f"DROP TABLE IF EXISTS {COHORT_TABLE}")
        con.execute(f"DETACH {SOURCE}")
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        target.unlink(missing_ok=True)
        raise
    con.close()
    target.chmod(stat.S_IRUSR | stat.S_IRGRP)
    return ProjectViewResult(rows=counts, persons=persons)


def _select_cohort(
    con: duckdb.DuckDBPyConnection, cohort: CohortSpec, present: set[str], *, twin: bool
) -> int:
    """Fill the temporary cohort table from the source's secondary views; its size."""

    def relation(store_table: str) -> str:
        view = secondary_view_name(store_table)
        name = _source_name(view, present, twin=twin)
        if name is None:
            raise UsageError(f"the data has no view {view}, which the project's cohort reads")
        return f"{SOURCE}.{quote_identifier(name)}"

    sql, params = cohort_sql(cohort, relation)
    con.execute(f"CREATE TEMP TABLE project_cohort AS {sql}", params)
    row = con.execute(f"SELECT count(*) FROM {COHORT_TABLE}").fetchone()
    return int(row[0]) if row else 0
