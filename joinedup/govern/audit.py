"""The audit chain: an append-only, hash-chained record of every decision.

Each ``audit__events`` row follows FHIR AuditEvent with the IHE BALP profile: who (``actor_id``,
``actor_role``, ``org_id``: agent), what (``action``, ``resource_*``, ``person_id``: entity),
when (``recorded_at``), why (``purpose`` and its HL7 ``purpose_of_use`` code), and the outcome
(``allow``/``deny``) with its ``reason`` and the policy ``rule`` applied.

Every event's ``hash`` is the SHA-256 of its own fields and ``prev_hash`` (the hash of the event
before it; 64 zeros for the first). The head of the chain (last sequence number and hash) is also
written to ``audit.head`` in the node folder, outside the database, so that a truncated chain is
detected too. ``verify_audit`` recomputes everything and reports each break.

Invariants:
- events are only appended (``append_event``); nothing here updates or deletes one;
- an event never holds a row value: it names tables, levels, purposes, actors, projects and at
  most one person pseudonym (the child a direct-care access was about, needed for review);
- a break-glass reason typed by a person is kept in ``govern__alerts``, not in the chain.
"""

# SQL here is assembled from this module's own constants (table and column names), never
# from values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from joinedup.config import NodeSettings
from joinedup.govern.database import open_govern
from joinedup.govern.model import Action, Actor, Resource
from joinedup.model import Purpose

GENESIS_HASH = "0" * 64
HEAD_FILE = "audit.head"

# HL7 v3 PurposeOfUse codes, as BALP uses them.
PURPOSE_OF_USE: dict[Purpose | None, str] = {
    Purpose.DIRECT_CARE: "TREAT",
    Purpose.PLANNING: "HOPERAT",
    Purpose.POPULATION_HEALTH: "PUBHLTH",
    Purpose.RESEARCH: "HRESCH",
    Purpose.EVALUATION: "HQUALIMP",
    None: "HSYSADMIN",
}
BREAK_GLASS_PURPOSE_OF_USE = "ETREAT"

_FIELDS = (
    "seq",
    "event_id",
    "recorded_at",
    "actor_id",
    "actor_role",
    "org_id",
    "action",
    "resource_kind",
    "resource_name",
    "resource_level",
    "person_id",
    "purpose",
    "purpose_of_use",
    "project_id",
    "outcome",
    "reason",
    "rule",
    "break_glass",
    "alert_id",
    "prev_hash",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    seq: int
    event_id: str
    recorded_at: datetime  # UTC, naive in the database
    actor_id: str
    actor_role: str
    org_id: str
    action: str
    resource_kind: str
    resource_name: str
    resource_level: str | None
    person_id: str | None
    purpose: str | None
    purpose_of_use: str
    project_id: str | None
    outcome: str  # "allow" or "deny"
    reason: str
    rule: str
    break_glass: bool
    alert_id: str | None
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {f: getattr(self, f) for f in _FIELDS}
        out["recorded_at"] = self.recorded_at.isoformat()
        out["hash"] = self.hash
        return out


def event_hash(fields: dict[str, object]) -> str:
    """SHA-256 over the canonical JSON of an event's fields (``hash`` excluded)."""
    canonical = {f: fields[f] for f in _FIELDS}
    recorded = canonical["recorded_at"]
    if isinstance(recorded, datetime):
        canonical["recorded_at"] = recorded.replace(tzinfo=None).isoformat()
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _head_path(settings: NodeSettings) -> Path:
    return settings.root / HEAD_FILE


def _write_head(settings: NodeSettings, seq: int, digest: str) -> None:
    path = _head_path(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"seq": seq, "hash": digest}) + "\n")
    os.replace(tmp, path)


def append_event(
    con: duckdb.DuckDBPyConnection,
    settings: NodeSettings,
    *,
    actor: Actor,
    action: Action,
    resource: Resource,
    purpose: Purpose | None,
    allowed: bool,
    reason: str,
    rule: str,
    project_id: str | None = None,
    break_glass: bool = False,
    alert_id: str | None = None,
    event_id: str | None = None,
    registered: bool = True,
) -> AuditEvent:
    """Append one event to the chain (on an open ``govern.duckdb`` connection)."""
    con.execute("BEGIN TRANSACTION")
    try:
        last = con.execute(
            "SELECT seq, hash FROM audit__events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq, prev = (1, GENESIS_HASH) if last is None else (int(last[0]) + 1, str(last[1]))
        fields: dict[str, object] = {
            "seq": seq,
            "event_id": event_id or uuid.uuid4().hex,
            "recorded_at": datetime.now(UTC).replace(tzinfo=None),
            "actor_id": actor.actor_id,
            "actor_role": actor.role.value if registered else "unregistered",
            "org_id": actor.org.org_id,
            "action": action.value,
            "resource_kind": resource.kind.value,
            "resource_name": resource.name,
            "resource_level": None if resource.level is None else resource.level.value,
            "person_id": resource.person_id,
            "purpose": None if purpose is None else purpose.value,
            "purpose_of_use": BREAK_GLASS_PURPOSE_OF_USE
            if break_glass
            else PURPOSE_OF_USE[purpose],
            "project_id": project_id,
            "outcome": "allow" if allowed else "deny",
            "reason": reason,
            "rule": rule,
            "break_glass": break_glass,
            "alert_id": alert_id,
            "prev_hash": prev,
        }
        digest = event_hash(fields)
        con.execute(
            f"INSERT INTO audit__events ({', '.join(_FIELDS)}, hash) "
            f"VALUES ({', '.join('?' for _ in _FIELDS)}, ?)",
            [*(fields[f] for f in _FIELDS), digest],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    _write_head(settings, seq, digest)
    return _event_from(fields, digest)


def _event_from(fields: dict[str, object], digest: str) -> AuditEvent:
    values = dict(fields)
    recorded = values["recorded_at"]
    assert isinstance(recorded, datetime)
    return AuditEvent(
        seq=int(str(values["seq"])),
        event_id=str(values["event_id"]),
        recorded_at=recorded,
        actor_id=str(values["actor_id"]),
        actor_role=str(values["actor_role"]),
        org_id=str(values["org_id"]),
        action=str(values["action"]),
        resource_kind=str(values["resource_kind"]),
        resource_name=str(values["resource_name"]),
        resource_level=_opt(values["resource_level"]),
        person_id=_opt(values["person_id"]),
        purpose=_opt(values["purpose"]),
        purpose_of_use=str(values["purpose_of_use"]),
        project_id=_opt(values["project_id"]),
        outcome=str(values["outcome"]),
        reason=str(values["reason"]),
        rule=str(values["rule"]),
        break_glass=bool(values["break_glass"]),
        alert_id=_opt(values["alert_id"]),
        prev_hash=str(values["prev_hash"]),
        hash=digest,
    )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def read_events(con: duckdb.DuckDBPyConnection, *, last: int | None = None) -> list[AuditEvent]:
    """Events in stored order (by ``seq``); only the ``last`` n when given."""
    sql = f"SELECT {', '.join(_FIELDS)}, hash FROM audit__events ORDER BY seq"
    rows = con.execute(sql).fetchall()
    if last is not None:
        rows = rows[-last:] if last > 0 else []
    return [_event_from(dict(zip(_FIELDS, row[:-1], strict=True)), str(row[-1])) for row in rows]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditVerification:
    events: int
    problems: tuple[str, ...]  # one line per break found, naming sequence numbers only

    @property
    def is_intact(self) -> bool:
        return not self.problems


def verify_audit(settings: NodeSettings) -> AuditVerification:
    """Recompute the chain and compare it with the head file; report every break."""
    with open_govern(settings) as con:
        events = read_events(con)
    problems: list[str] = []
    prev = GENESIS_HASH
    for position, event in enumerate(events, start=1):
        if event.seq != position:
            problems.append(
                f"event at position {position} has sequence {event.seq}: "
                "an event was deleted or the events were reordered"
            )
        if event.prev_hash != prev:
            problems.append(
                f"event {event.seq} does not follow the event before it (prev_hash differs): "
                "an event before it was deleted, inserted or reordered"
            )
        recomputed = event_hash(event.as_dict() | {"recorded_at": event.recorded_at})
        if recomputed != event.hash:
            problems.append(f"event {event.seq} was edited (its hash does not match its fields)")
        prev = event.hash
    head_path = _head_path(settings)
    if head_path.is_file():
        head = json.loads(head_path.read_text())
        if int(head["seq"]) != len(events) or (events and head["hash"] != events[-1].hash):
            problems.append(
                f"the chain holds {len(events)} events but its head ({HEAD_FILE}) records "
                f"{int(head['seq'])}: the chain was truncated or its last event replaced"
            )
    elif events:
        problems.append(f"{HEAD_FILE} is missing: the chain's head cannot be checked")
    return AuditVerification(events=len(events), problems=tuple(problems))
