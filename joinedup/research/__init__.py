"""The researcher's API: what a job's ``analysis.py`` imports.

::

    from joinedup import research

    people = research.sql("SELECT person_id, sex FROM view__secondary__person")
    research.table("people_by_sex", people, by=["sex"])

``data()`` is a read-only DuckDB connection to the job's data: the project view inside the node
(``joinedup job submit``) or the synthetic twin (``joinedup job run --synthetic``). It cannot
read or write files (DuckDB's external access is off and locked). ``sql(query)`` is a relation
on it. The typed output calls mirror ``joinedup.outputs.OutputSession``: ``table``, ``summary``,
``model``, ``histogram``, ``survival`` and ``text``. They release nothing: each one spools its
request (the call, its arguments, the SQL that made the rows and the contributing rows) for the
node, which recomputes, checks and releases it after the run (see docs/reference/jobs.md).

Invariants: this package imports nothing of joinedup but ``errors`` (an import-linter contract);
it never learns a node's paths: it is handed one database file and one spool folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from joinedup.errors import UsageError
from joinedup.research.spool import PERSON, SpoolRequest, encode_request, is_valid_name
from joinedup.research.spool import request_path as _request_path
from joinedup.research.spool import rows_path as _rows_path

Data = duckdb.DuckDBPyRelation | str


@dataclass(slots=True, kw_only=True)
class _Context:
    con: duckdb.DuckDBPyConnection
    spool: Path
    seq: int = 0
    names: set[str] | None = None


_context: _Context | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SpooledOutput:
    """What a typed call returns: a receipt. The checked result appears after the run."""

    seq: int
    kind: str
    name: str


def open_research(con: duckdb.DuckDBPyConnection, spool: Path) -> None:
    """Set the job's connection and spool (called by the job runner before the code runs)."""
    global _context
    _context = _Context(con=con, spool=spool, names=set())


def _ctx() -> _Context:
    if _context is None:
        raise UsageError(
            "joinedup.research works inside a job: run it with "
            "`joinedup job run JOBDIR --synthetic` (or submit it with `joinedup job submit`)"
        )
    return _context


def data() -> duckdb.DuckDBPyConnection:
    """The job's read-only DuckDB connection (project view or synthetic twin)."""
    return _ctx().con


def sql(query: str) -> duckdb.DuckDBPyRelation:
    """A relation on the job's data."""
    return _ctx().con.sql(query)


def _relation(source: Data) -> duckdb.DuckDBPyRelation:
    if isinstance(source, str):
        return sql(source)
    if isinstance(source, duckdb.DuckDBPyRelation):
        return source
    raise UsageError("give a SQL query or a relation made by research.sql()")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _spool(
    kind: str,
    name: str,
    source: Data | None,
    needed: list[str],
    args: dict[str, Any],
    content: str | None = None,
) -> SpooledOutput:
    ctx = _ctx()
    if not is_valid_name(name):
        raise UsageError(
            f"output name {name!r}: use letters, digits, '_', '-' or '.' (64 characters at most)"
        )
    assert ctx.names is not None
    if name in ctx.names:
        raise UsageError(f"output name {name!r} is used twice in this job")
    ctx.names.add(name)
    ctx.seq += 1
    seq = ctx.seq
    rows_file: Path | None = None
    query: str | None = None
    if source is not None:
        relation = _relation(source)
        columns = list(relation.columns)
        wanted = [PERSON, *dict.fromkeys(c for c in needed if c != PERSON)]
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise UsageError(
                f"output {name}: the data has no column(s) {', '.join(missing)} "
                f"(every output counts people, so keep {PERSON})"
            )
        query = relation.sql_query()
        rows = relation.project(", ".join(_quote(c) for c in wanted)).to_arrow_table()
        import pyarrow.parquet as pq

        rows_file = _rows_path(ctx.spool, seq)
        pq.write_table(rows, str(rows_file))
    request = SpoolRequest(
        seq=seq, kind=kind, name=name, args=args, sql=query, rows=rows_file, content=content
    )
    with _request_path(ctx.spool, seq).open("w", encoding="utf-8") as handle:
        handle.write(encode_request(request))
    print(f"[joinedup] spooled {kind} {name!r}: checked by the node after the run")
    return SpooledOutput(seq=seq, kind=kind, name=name)


def table(
    name: str,
    data: Data,
    *,
    by: list[str],
    structural_zeros: list[tuple[str, ...]] | None = None,
    levels: dict[str, list[str]] | None = None,
) -> SpooledOutput:
    """A frequency table of distinct people per cell (one or two dimensions)."""
    if not 1 <= len(by) <= 2:
        raise UsageError("a table has one or two dimensions; cross more by filtering")
    args: dict[str, Any] = {
        "by": list(by),
        "structural_zeros": [list(z) for z in structural_zeros or []],
        "levels": levels or {},
    }
    return _spool("table", name, data, list(by), args)


def summary(
    name: str, data: Data, *, by: list[str], value: str, statistic: str = "mean"
) -> SpooledOutput:
    """Sum, mean or median of ``value`` per cell."""
    args = {"by": list(by), "value": value, "statistic": statistic}
    return _spool("summary", name, data, [*by, value], args)


def model(
    name: str,
    data: Data,
    *,
    outcome: str,
    covariates: list[str] | None = None,
    categorical: list[str] | None = None,
    family: str = "ols",
) -> SpooledOutput:
    """An OLS or logistic regression (coefficients only, after the model checks)."""
    cov, cat = list(covariates or []), list(categorical or [])
    args = {"outcome": outcome, "covariates": cov, "categorical": cat, "family": family}
    return _spool("model", name, data, [outcome, *cov, *cat], args)


def histogram(
    name: str, data: Data, *, value: str, edges: list[float], image: str = "png"
) -> SpooledOutput:
    """Counts in fixed bins, checked as a table, drawn as a PNG by the node."""
    args = {"value": value, "edges": [float(e) for e in edges], "image": image}
    return _spool("histogram", name, data, [value], args)


def survival(name: str, data: Data, *, time: str, event: str) -> SpooledOutput:
    """A Kaplan-Meier curve (steps gathered until each holds enough events)."""
    return _spool("survival", name, data, [time, event], {"time": time, "event": event})


def text(name: str, content: str, *, why: str = "free text") -> SpooledOutput:
    """Free text (scanned, then always two independent output checkers)."""
    if not isinstance(content, str):
        raise UsageError("text outputs are text; make figures with research.histogram")
    return _spool("text", name, None, [], {"why": why}, content=content)


__all__ = [
    "SpooledOutput",
    "data",
    "histogram",
    "model",
    "open_research",
    "sql",
    "summary",
    "survival",
    "table",
    "text",
]
