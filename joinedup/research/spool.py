"""The spool: how a sandboxed job hands its output requests to the node.

A job's code never releases anything. Each typed call (``research.table`` and the rest) writes
one request into the job's spool folder:

- ``NNNN.json``: ``{"seq", "kind", "name", "args", "sql", "rows", "content"}``; ``sql`` is the
  query that made the rows (the node recomputes it), ``args`` the call's keyword arguments;
- ``NNNN.parquet``: the contributing rows (the person id and the columns the call needs);
- ``violations.jsonl``: one line per action the sandbox guard blocked.

The trusted parent reads the folder with ``read_requests``; it treats every byte as untrusted
(a malformed request is reported, never executed).

Invariants: request names and kinds are checked here; nothing in this module opens a node file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS: tuple[str, ...] = ("table", "summary", "model", "histogram", "survival", "text")
VIOLATIONS_FILE = "violations.jsonl"
PERSON = "person_id"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_REQUESTS = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class SpoolRequest:
    """One typed output call, as the sandbox wrote it."""

    seq: int
    kind: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    sql: str | None = None
    rows: Path | None = None  # the parquet file of contributing rows
    content: str | None = None  # text outputs only


@dataclass(frozen=True, slots=True, kw_only=True)
class SpoolReading:
    requests: tuple[SpoolRequest, ...]
    problems: tuple[str, ...]  # malformed or unexpected files (named, never their content)
    violations: int  # lines in violations.jsonl


def request_path(spool: Path, seq: int) -> Path:
    return spool / f"{seq:04d}.json"


def rows_path(spool: Path, seq: int) -> Path:
    return spool / f"{seq:04d}.parquet"


def is_valid_name(name: str) -> bool:
    return bool(NAME_PATTERN.match(name))


def encode_request(request: SpoolRequest) -> str:
    return json.dumps(
        {
            "seq": request.seq,
            "kind": request.kind,
            "name": request.name,
            "args": request.args,
            "sql": request.sql,
            "rows": None if request.rows is None else request.rows.name,
            "content": request.content,
        }
    )


def _decode(spool: Path, path: Path) -> SpoolRequest:
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    seq, kind, name = raw.get("seq"), raw.get("kind"), raw.get("name")
    if not isinstance(seq, int) or path.name != f"{seq:04d}.json":
        raise ValueError("sequence number does not match the file name")
    if kind not in KINDS:
        raise ValueError(f"unknown kind (known: {', '.join(KINDS)})")
    if not isinstance(name, str) or not is_valid_name(name):
        raise ValueError("output name must be letters, digits, '_', '-' or '.' (64 at most)")
    args = raw.get("args") or {}
    sql, rows, content = raw.get("sql"), raw.get("rows"), raw.get("content")
    if not isinstance(args, dict):
        raise ValueError("args must be an object")
    if sql is not None and not isinstance(sql, str):
        raise ValueError("sql must be text")
    if content is not None and not isinstance(content, str):
        raise ValueError("content must be text")
    rows_file: Path | None = None
    if rows is not None:
        if rows != rows_path(spool, seq).name:
            raise ValueError("rows file does not match the request")
        rows_file = rows_path(spool, seq)
        if rows_file.is_symlink() or not rows_file.is_file():
            raise ValueError("rows file is missing")
    return SpoolRequest(
        seq=seq, kind=str(kind), name=name, args=args, sql=sql, rows=rows_file, content=content
    )


def read_requests(spool: Path) -> SpoolReading:
    """Every request in ``spool``, in order, with the problems found on the way."""
    requests: list[SpoolRequest] = []
    problems: list[str] = []
    expected: set[str] = {VIOLATIONS_FILE}
    links = sorted(p.name for p in spool.iterdir() if p.is_symlink() or not p.is_file())
    if links:
        problems.append(f"{len(links)} link(s) or folder(s) in the spool ignored")
    for path in sorted(spool.glob("[0-9][0-9][0-9][0-9].json")):
        if path.name in links:
            continue
        try:
            request = _decode(spool, path)
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(f"{path.name}: malformed request ({exc})")
            continue
        requests.append(request)
        expected.add(path.name)
        if request.rows is not None:
            expected.add(request.rows.name)
    unexpected = sorted(
        p.name for p in spool.iterdir() if p.name not in expected and p.name not in links
    )
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected file(s) in the spool ignored")
    if len(requests) > MAX_REQUESTS:
        problems.append(f"more than {MAX_REQUESTS} output requests; the rest are ignored")
        requests = requests[:MAX_REQUESTS]
    violations_file = spool / VIOLATIONS_FILE
    violations = 0
    if violations_file.is_symlink():
        violations = 1  # the record itself was tampered with
    elif violations_file.is_file():
        violations = sum(1 for line in violations_file.read_bytes().splitlines() if line.strip())
    return SpoolReading(requests=tuple(requests), problems=tuple(problems), violations=violations)
