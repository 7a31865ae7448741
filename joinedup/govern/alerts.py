"""Alerts: the node's record of issues to follow up, each logged, tracked and resolved once.

Two kinds:

- ``break_glass``: every direct-care access made without a legitimate relationship raises one,
  addressed to the node's designated safeguarding lead, who reviews it (``appropriate`` or
  ``inappropriate``); nobody reviews their own access;
- ``audit_finding``: ``joinedup audit verify`` raises one for the node administrator when the
  audit chain is broken (one open alert per distinct finding, however often verify runs); it is
  closed as ``resolved`` once investigated;
- ``incident``: any other issue (a deviation from a process, a suspected breach, a complaint),
  logged by the safeguarding lead or a node administrator (``joinedup alert add``) and closed as
  ``resolved``.

Invariants: an alert is linked to its audit event (``event_id``); a review records who, when and
the outcome, and an alert is reviewed once; an alert's reason never holds a row value (an audit
finding names sequence numbers only).
"""

# SQL here is assembled from this module's own constants, never from values (always bound).
# ruff: noqa: S608

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import duckdb

from joinedup.errors import UsageError
from joinedup.govern.model import Actor, Role


class AlertOutcome(StrEnum):
    APPROPRIATE = "appropriate"  # break-glass
    INAPPROPRIATE = "inappropriate"  # break-glass
    RESOLVED = "resolved"  # an audit finding, investigated


class AlertKind(StrEnum):
    BREAK_GLASS = "break_glass"
    AUDIT_FINDING = "audit_finding"
    INCIDENT = "incident"


OUTCOMES: dict[AlertKind, frozenset[AlertOutcome]] = {
    AlertKind.BREAK_GLASS: frozenset({AlertOutcome.APPROPRIATE, AlertOutcome.INAPPROPRIATE}),
    AlertKind.AUDIT_FINDING: frozenset({AlertOutcome.RESOLVED}),
    AlertKind.INCIDENT: frozenset({AlertOutcome.RESOLVED}),
}


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
    kind: AlertKind = AlertKind.BREAK_GLASS


_COLUMNS = (
    "alert_id, event_id, actor_id, reason, raised_at, status, reviewed_by, review_outcome, kind"
)


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
            kind=AlertKind(str(r[8] or AlertKind.BREAK_GLASS.value)),
        )
        for r in rows
    ]


def review_alert(
    con: duckdb.DuckDBPyConnection,
    alert_id: str,
    *,
    reviewer: Actor,
    outcome: AlertOutcome,
    public_note: str | None = None,
) -> None:
    """Close an alert once. A resolved incident or audit finding may carry a ``public_note``
    (what happened and what was done, in words fit for the public), which the transparency
    register publishes; a break-glass review never does (it is about one child's care)."""
    if reviewer.role not in (Role.DSL, Role.NODE_ADMIN):
        raise UsageError(f"actor {reviewer.actor_id} cannot review alerts")
    row = con.execute(
        "SELECT status, actor_id, kind FROM govern__alerts WHERE alert_id = ?", [alert_id]
    ).fetchone()
    if row is None:
        raise UsageError(f"no alert {alert_id}")
    if row[0] != "open":
        raise UsageError(f"alert {alert_id} was already reviewed")
    kind = AlertKind(str(row[2] or AlertKind.BREAK_GLASS.value))
    if outcome not in OUTCOMES[kind]:
        allowed = ", ".join(sorted(o.value for o in OUTCOMES[kind]))
        raise UsageError(f"a {kind.value} alert is closed as: {allowed}")
    if kind is AlertKind.BREAK_GLASS and row[1] == reviewer.actor_id:
        raise UsageError("nobody reviews their own break-glass access")
    note = (public_note or "").strip() or None
    if note is not None and kind is AlertKind.BREAK_GLASS:
        raise UsageError("a break-glass review is never published (it concerns one child)")
    con.execute(
        "UPDATE govern__alerts SET status = 'reviewed', reviewed_by = ?, reviewed_at = ?, "
        "review_outcome = ?, public_note = ? WHERE alert_id = ?",
        [
            reviewer.actor_id,
            datetime.now(UTC).replace(tzinfo=None),
            outcome.value,
            note,
            alert_id,
        ],
    )


def raise_audit_finding(
    con: duckdb.DuckDBPyConnection, *, event_id: str, actor_id: str, finding: str
) -> str | None:
    """Raise an ``audit_finding`` alert for the node administrator; None if the same finding
    is already open (a finding is tracked once until it is resolved)."""
    open_already = con.execute(
        "SELECT count(*) FROM govern__alerts WHERE kind = ? AND status = 'open' AND reason = ?",
        [AlertKind.AUDIT_FINDING.value, finding],
    ).fetchone()
    if open_already and open_already[0]:
        return None
    return _insert(con, event_id, actor_id, finding, AlertKind.AUDIT_FINDING)


MIN_INCIDENT_SUMMARY = 20


def log_incident(
    con: duckdb.DuckDBPyConnection, *, event_id: str, reporter: Actor, summary: str
) -> str:
    """Log an incident for the node administrator to track and resolve."""
    if reporter.role not in (Role.DSL, Role.NODE_ADMIN):
        raise UsageError(f"actor {reporter.actor_id} cannot log incidents")
    if len(summary.strip()) < MIN_INCIDENT_SUMMARY:
        raise UsageError(
            f"describe the incident in at least {MIN_INCIDENT_SUMMARY} characters "
            "(what happened, when; no child's details)"
        )
    return _insert(con, event_id, reporter.actor_id, summary.strip(), AlertKind.INCIDENT)


def _insert(
    con: duckdb.DuckDBPyConnection, event_id: str, actor_id: str, reason: str, kind: AlertKind
) -> str:
    alert_id = "A" + uuid.uuid4().hex[:10]
    con.execute(
        "INSERT INTO govern__alerts (alert_id, event_id, actor_id, person_id, reason, raised_at, "
        "recipient_role, status, kind) VALUES (?, ?, ?, NULL, ?, ?, ?, 'open', ?)",
        [
            alert_id,
            event_id,
            actor_id,
            reason,
            datetime.now(UTC).replace(tzinfo=None),
            Role.NODE_ADMIN.value,
            kind.value,
        ],
    )
    return alert_id
