"""What was held back, and why: the quarantine report a data engineer works from.

Reads only the store's ``ingest__quarantine_reasons`` (row number, column, rule, message and
action per failure), never the vault, so the report holds no row values. The rows themselves
stay in the vault's ``quarantine__<source>`` tables for whoever may open the vault.
"""

# SQL here is fixed text; filter values are bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb

from joinedup.config import NodeSettings
from joinedup.errors import ConfigError, UsageError

Action = Literal["quarantine", "flag", "all"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReasonCount:
    source: str
    table: str
    column: str | None
    rule: str
    action: str
    rows: int
    first_row: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    batch_id: str
    source: str
    table: str
    row_number: int
    column: str | None
    rule: str
    message: str
    action: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QuarantineReport:
    counts: tuple[ReasonCount, ...]
    reasons: tuple[Reason, ...]  # the first ``limit`` reasons, in file order
    total: int

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "counts": [
                {
                    "source": c.source,
                    "table": c.table,
                    "column": c.column,
                    "rule": c.rule,
                    "action": c.action,
                    "rows": c.rows,
                    "first_row": c.first_row,
                }
                for c in self.counts
            ],
            "reasons": [
                {
                    "batch_id": r.batch_id,
                    "source": r.source,
                    "table": r.table,
                    "row_number": r.row_number,
                    "column": r.column,
                    "rule": r.rule,
                    "message": r.message,
                    "action": r.action,
                }
                for r in self.reasons
            ],
        }


_FILTER = (
    " WHERE (? IS NULL OR source = ?) AND (? IS NULL OR batch_id = ?) AND (? = 'all' OR action = ?)"
)
_REASON_COLUMNS = "batch_id, source, table_name, row_number, column_name, rule, message, action"


def _connect(node: NodeSettings) -> duckdb.DuckDBPyConnection:
    if not node.store_path.is_file():
        raise ConfigError(f"the node's store {node.store_path} is missing")
    return duckdb.connect(str(node.store_path), read_only=True, config=node.duckdb_config())


def _params(source: str | None, batch_id: str | None, action: Action) -> list[object]:
    if action not in ("quarantine", "flag", "all"):
        raise UsageError("--action must be quarantine, flag or all")
    return [source, source, batch_id, batch_id, action, action]


def quarantine_report(
    node: NodeSettings,
    *,
    source: str | None = None,
    batch_id: str | None = None,
    action: Action = "quarantine",
    limit: int = 20,
) -> QuarantineReport:
    """Counts by source, table, column and rule, and the first ``limit`` reasons."""
    params = _params(source, batch_id, action)
    con = _connect(node)
    try:
        counts = con.execute(
            "SELECT source, table_name, column_name, rule, action, count(*), min(row_number) "
            f"FROM ingest__quarantine_reasons{_FILTER} GROUP BY ALL "
            "ORDER BY count(*) DESC, source, table_name, column_name, rule",
            params,
        ).fetchall()
        reasons = con.execute(
            f"SELECT {_REASON_COLUMNS} FROM ingest__quarantine_reasons{_FILTER} "
            "ORDER BY source, batch_id, table_name, row_number, column_name LIMIT ?",
            [*params, limit],
        ).fetchall()
    finally:
        con.close()
    return QuarantineReport(
        counts=tuple(
            ReasonCount(
                source=r[0],
                table=r[1],
                column=r[2],
                rule=r[3],
                action=r[4],
                rows=int(r[5]),
                first_row=int(r[6]),
            )
            for r in counts
        ),
        reasons=tuple(
            Reason(
                batch_id=r[0],
                source=r[1],
                table=r[2],
                row_number=int(r[3]),
                column=r[4],
                rule=r[5],
                message=r[6],
                action=r[7],
            )
            for r in reasons
        ),
        total=sum(int(r[5]) for r in counts),
    )


def export_reasons(
    node: NodeSettings,
    path: Path,
    *,
    source: str | None = None,
    batch_id: str | None = None,
    action: Action = "quarantine",
) -> int:
    """Write every matching reason to a CSV file (no values, so safe to share); returns rows."""
    params = _params(source, batch_id, action)
    con = _connect(node)
    try:
        cursor = con.execute(
            f"SELECT {_REASON_COLUMNS} FROM ingest__quarantine_reasons{_FILTER} "
            "ORDER BY source, batch_id, table_name, row_number, column_name",
            params,
        )
        written = 0
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(_REASON_COLUMNS.replace("table_name", "table").split(", "))
            while batch := cursor.fetchmany(10_000):
                writer.writerows(batch)
                written += len(batch)
    finally:
        con.close()
    return written
