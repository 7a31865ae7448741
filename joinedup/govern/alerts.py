"""Break-glass alerts: every direct-care access made without a legitimate relationship raises
one, addressed to the node's designated safeguarding lead, who reviews it.

Invariants: an alert is linked to its audit event (``event_id``); a review records who, when and
the outcome (``appropriate`` or ``inappropriate``), and an alert is reviewed once.
"""

# SQL here is assembled from this module's own constants, never from values (always bound).
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import duckdb

from joinedup.errors import UsageError
from joinedup.govern.model import Actor, Role


class AlertOutcome(StrEnum):
    APPROPRIATE = "appropriate"
    INAPPROPRIATE = "inappropriate"


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    alert_id: str
    event_id: str
    actor_id: str
    reason: str  # as typed by the actor who broke the glass
    raised_at: datetime
    status: str  # open or reviewed
    reviewed_by: str | None
    review_outcome: str | None


_COLUMNS = "alert_id, event_id, actor_id, reason, raised_at, status, reviewed_by, review_outcome"


def list_alerts(con: duckdb.DuckDBPyConnection, *, open_only: bool = False) -> list[Alert]:
    where = " WHERE status = 'open'" if open_only else ""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM govern__alerts{where} ORDER BY raised_at"
    ).fetchall()
    return [
        Alert(
            alert_id=str(r[0]),
            event_id=str(r[1]),
            actor_id=str(r[2]),
            reason=str(r[3]),
            raised_at=r[4],
            status=str(r[5]),
            reviewed_by=None if r[6] is None else str(r[6]),
            review_outcome=None if r[7] is None else str(r[7]),
        )
        for r in rows
    ]


def review_alert(
    con: duckdb.DuckDBPyConnection, alert_id: str, *, reviewer: Actor, outcome: AlertOutcome
) -> None:
    if reviewer.role not in (Role.DSL, Role.NODE_ADMIN):
        raise UsageError(f"actor {reviewer.actor_id} cannot review alerts")
    row = con.execute(
        "SELECT status, actor_id FROM govern__alerts WHERE alert_id = ?", [alert_id]
    ).fetchone()
    if row is None:
        raise UsageError(f"no alert {alert_id}")
    if row[0] != "open":
        raise UsageError(f"alert {alert_id} was already reviewed")
    if row[1] == reviewer.actor_id:
        raise UsageError("nobody reviews their own break-glass access")
    con.execute(
        "UPDATE govern__alerts SET status = 'reviewed', reviewed_by = ?, reviewed_at = ?, "
        "review_outcome = ? WHERE alert_id = ?",
        [reviewer.actor_id, datetime.now(UTC).replace(tzinfo=None), outcome.value, alert_id],
    )
