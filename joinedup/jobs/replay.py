"""Replaying a job's spool through disclosure control, in the trusted parent process.

For each request the sandbox spooled, ``replay_spool``:

1. checks its shape (kind, name, arguments of the right types);
2. **recomputes** its rows: the request's SQL runs again here on the project view, on a
   read-only connection whose file and network access are off (so the rows that reach the
   checker are the view's, not whatever the child wrote);
3. checks the spooled rows against the recomputation (same people, same values): every person
   id must exist in the project view and the two sets of rows must agree, or the output is
   refused as tampered;
4. checks the columns it uses are the job's approved columns or derived from them by its SQL
   (the project view holds nothing else);
5. calls the matching ``OutputSession`` method (evidence, checks, ledger, differencing audit,
   review queue, release folder), which alone decides what leaves.

Invariants: nothing here writes a released file (``OutputSession`` does); a refused request's
reasons name rules, columns and counts, never values.
"""

# SQL here is built from quoted identifiers; values are bound. Hence S608 is off.
# ruff: noqa: S608

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from joinedup.errors import JoinedupError, UserError
from joinedup.outputs import OutputResult, OutputSession, OutputStatus
from joinedup.outputs.scan import scan_filename, scan_text
from joinedup.research.spool import PERSON, SpoolRequest
from joinedup.store.schema import quote_identifier

RECOMPUTE_SECONDS = 120
MAX_UNSEEN_LABEL = 24  # a declared level absent from the data: a short category name at most
# a run of hex or digits this long in a name the job chose could be (part of) a pseudonym
_TOKEN = re.compile(r"(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{8,}")
ROWS_DIFFER = "the spooled rows differ from the node's recomputation of the job's SQL"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayedOutput:
    seq: int
    name: str
    kind: str
    status: str  # released | refused | pending_review
    release_id: str | None
    reasons: tuple[str, ...]
    files: tuple[str, ...]  # released file names

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "release_id": self.release_id,
            "reasons": list(self.reasons),
            "files": list(self.files),
        }


def _refused(request: SpoolRequest, *reasons: str) -> ReplayedOutput:
    return ReplayedOutput(
        seq=request.seq,
        name=request.name,
        kind=request.kind,
        status=OutputStatus.REFUSED,
        release_id=None,
        reasons=tuple(reasons),
        files=(),
    )


def _str_list(args: dict[str, Any], key: str) -> list[str]:
    value = args.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of column names")
    return list(value)


def _str(args: dict[str, Any], key: str, default: str | None = None) -> str:
    value = args.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    return value


def needed_columns(request: SpoolRequest) -> list[str]:
    """The columns a request's call reads (besides ``person_id``)."""
    a = request.args
    match request.kind:
        case "table":
            return _str_list(a, "by")
        case "summary":
            return [*_str_list(a, "by"), _str(a, "value")]
        case "model":
            return [_str(a, "outcome"), *_str_list(a, "covariates"), *_str_list(a, "categorical")]
        case "histogram":
            return [_str(a, "value")]
        case "survival":
            return [_str(a, "time"), _str(a, "event")]
    return []


def open_project_view(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the project view that cannot reach files or the network."""
    return duckdb.connect(
        str(path),
        read_only=True,
        config={
            "enable_external_access": False,
            "lock_configuration": True,
            "threads": 1,
            "memory_limit": "1GB",
        },
    )


def _recompute(view: duckdb.DuckDBPyConnection, sql: str, columns: list[str]) -> pa.Table:
    import threading

    timer = threading.Timer(RECOMPUTE_SECONDS, view.interrupt)
    timer.start()
    try:
        relation = view.sql(sql)
        if relation is None:
            raise ValueError("the SQL is not a query")
        missing = [c for c in columns if c not in relation.columns]
        if missing:
            raise ValueError(f"the query has no column(s) {', '.join(missing)}")
        select = ", ".join(quote_identifier(c) for c in columns)
        return relation.project(select).to_arrow_table()
    finally:
        timer.cancel()


def _rows_agree(spooled: pa.Table, recomputed: pa.Table, columns: list[str]) -> str | None:
    """Why the spooled rows differ from the recomputation, or None if they agree."""
    if spooled.column_names != columns:
        return "the spooled rows have other columns than the call needs"
    scratch = duckdb.connect()
    try:
        scratch.register("spooled", spooled)
        scratch.register("recomputed", recomputed)
        cols = ", ".join(f"CAST({quote_identifier(c)} AS VARCHAR)" for c in columns)
        digest = f"SELECT count(*), sum(hash({cols})::HUGEINT) FROM "
        a = scratch.execute(digest + "spooled").fetchone()
        b = scratch.execute(digest + "recomputed").fetchone()
    finally:
        scratch.close()
    if a != b:
        return ROWS_DIFFER
    return None


def _unknown_people(view: duckdb.DuckDBPyConnection, spooled: pa.Table, views: list[str]) -> int:
    people = " UNION ".join(
        f"SELECT CAST({PERSON} AS VARCHAR) AS p FROM {quote_identifier(v)}" for v in views
    )
    known = view.sql(people).to_arrow_table()
    scratch = duckdb.connect()
    try:
        scratch.register("known", known)
        scratch.register("ids", spooled.select([PERSON]))
        row = scratch.execute(
            f"SELECT count(DISTINCT CAST({PERSON} AS VARCHAR)) FROM ids "
            f"WHERE CAST({PERSON} AS VARCHAR) NOT IN (SELECT p FROM known)"
        ).fetchone()
    finally:
        scratch.close()
    return int(row[0]) if row else 0


def _names_taken(folder: Path, request: SpoolRequest) -> str | None:
    """The file name this output would overwrite in the release folder, if any."""
    names = [request.name] if request.kind == "text" else [f"{request.name}.csv"]
    if request.kind == "histogram":
        names.append(f"{request.name}.png")
    return next((n for n in names if (folder / n).exists()), None)


def _label_problem(request: SpoolRequest, recomputed: pa.Table | None) -> str | None:
    """Strings the job chose that would appear in a released file (the output's name, declared
    levels with no data) must not carry values: they are scanned, and a level absent from the
    recomputed data must be a short category name."""
    if request.kind != "text" and (scan_filename(request.name) or _TOKEN.search(request.name)):
        return "the output's name looks like it holds data (an identifier-like token)"
    levels = request.args.get("levels") or {}
    if request.kind != "table" or not isinstance(levels, dict) or recomputed is None:
        return None
    for column, labels in levels.items():
        if column not in recomputed.column_names or not isinstance(labels, list):
            continue
        seen = {str(v) for v in recomputed.column(column).unique().to_pylist()}
        for label in (str(x) for x in labels):
            if label in seen:
                continue
            if len(label) > MAX_UNSEEN_LABEL or scan_text(label) or _TOKEN.search(label):
                return (
                    f"a declared level of {column} that is not in the data is longer than "
                    f"{MAX_UNSEEN_LABEL} characters or looks like it holds data"
                )
    return None


def _call(
    session: OutputSession, request: SpoolRequest, relation: duckdb.DuckDBPyRelation | None
) -> OutputResult:
    a = request.args
    name = request.name
    if request.kind == "text":
        return session.text(name, request.content or "", why=_str(a, "why", "free text"))
    assert relation is not None
    match request.kind:
        case "table":
            zeros = a.get("structural_zeros") or []
            levels = a.get("levels") or None
            if not isinstance(zeros, list) or (levels is not None and not isinstance(levels, dict)):
                raise ValueError("structural_zeros must be a list and levels a mapping")
            return session.table(
                name,
                relation,
                by=_str_list(a, "by"),
                structural_zeros=frozenset(tuple(str(x) for x in z) for z in zeros),
                levels={str(k): [str(x) for x in v] for k, v in levels.items()} if levels else None,
            )
        case "summary":
            return session.summary(
                name,
                relation,
                by=_str_list(a, "by"),
                value=_str(a, "value"),
                statistic=_str(a, "statistic", "mean"),
            )
        case "model":
            return session.model(
                name,
                relation,
                outcome=_str(a, "outcome"),
                covariates=_str_list(a, "covariates"),
                categorical=_str_list(a, "categorical"),
                family=_str(a, "family", "ols"),
            )
        case "histogram":
            edges = a.get("edges")
            if not isinstance(edges, list) or not all(isinstance(e, int | float) for e in edges):
                raise ValueError("edges must be a list of numbers")
            return session.histogram(
                name,
                relation,
                value=_str(a, "value"),
                edges=[float(e) for e in edges],
                image=_str(a, "image", "png"),
            )
        case "survival":
            return session.survival(name, relation, time=_str(a, "time"), event=_str(a, "event"))
    raise ValueError(f"unknown kind {request.kind}")


def replay_request(
    request: SpoolRequest,
    *,
    view: duckdb.DuckDBPyConnection,
    views: list[str],
    session: OutputSession,
) -> ReplayedOutput:
    """Recompute, verify and replay one request (see the module docstring)."""
    relation: duckdb.DuckDBPyRelation | None = None
    taken = _names_taken(session.release_dir, request)
    if taken:
        return _refused(
            request,
            f"{taken} is already released in this project: give the output another name",
        )
    try:
        columns = [PERSON, *dict.fromkeys(c for c in needed_columns(request) if c != PERSON)]
    except ValueError as exc:
        return _refused(request, f"malformed request: {exc}")
    if request.kind != "text":
        if request.sql is None or request.rows is None:
            return _refused(request, "no SQL or rows: outputs are computed by SQL on the view")
        try:
            recomputed = _recompute(view, request.sql, columns)
        except (duckdb.Error, ValueError) as exc:
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            return _refused(
                request,
                "the node could not recompute the output from the project view "
                f"(outputs must be computed by SQL on the job's views): {first}",
            )
        try:
            # the row count from the file's footer first: a file that claims other rows than
            # the recomputation is refused before it is decompressed
            if pq.ParquetFile(str(request.rows)).metadata.num_rows != recomputed.num_rows:
                return _refused(request, ROWS_DIFFER)
            spooled = pq.read_table(str(request.rows))
        except (pa.ArrowException, OSError):
            return _refused(request, "the spooled rows could not be read")
        unknown = _unknown_people(view, spooled, views) if PERSON in spooled.column_names else -1
        if unknown:
            why = (
                f"{unknown} person id(s) are not in the project view"
                if unknown > 0
                else f"the spooled rows have no {PERSON}"
            )
            return _refused(request, why)
        disagree = _rows_agree(spooled, recomputed, columns)
        if disagree is not None:
            return _refused(request, disagree)
        relation = session.con.from_arrow(recomputed)
    problem = _label_problem(request, recomputed if request.kind != "text" else None)
    if problem is not None:
        return _refused(request, problem)
    try:
        result = _call(session, request, relation)
    except ValueError as exc:
        return _refused(request, f"malformed request: {exc}")
    except (UserError, JoinedupError) as exc:
        return _refused(request, str(exc))
    except duckdb.Error as exc:
        return _refused(request, f"the call failed on the project view: {str(exc)[:200]}")
    return ReplayedOutput(
        seq=request.seq,
        name=request.name,
        kind=request.kind,
        status=result.status,
        release_id=result.release_id,
        reasons=result.reasons,
        files=tuple(p.name for p in result.files),
    )
