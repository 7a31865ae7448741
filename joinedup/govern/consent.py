"""Consent to contact (BaBi / CRATE style): may a project contact this child's family?

A consent record names the child by ``ChildKey`` (a pseudonym and a month of birth), a traffic
light level, who gave it, and the information sheet they read:

======  ========================================================================
level   meaning
======  ========================================================================
green   a project may contact the family directly
amber   contact only through the family's care team
red     never contact
======  ========================================================================

Rules:
- a parent gives consent for a child under 16; a young person of 13 or over may give their own;
- at 16 a parent's consent lapses: the young person must re-consent. The store keeps only the
  month of birth, so the lapse is taken at the start of the 16th birthday's month (never late);
- the latest record for the child wins (by the day it was given, then when it was written);
  with none, the answer is no contact;
- identity is never released for research contact without consent (``decide`` asks
  ``contact_permission`` for action ``contact``).
"""

# SQL here is assembled from this module's own constants (table and column names), never
# from values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

import duckdb

from joinedup.errors import UsageError
from joinedup.govern.identify import ChildKey
from joinedup.govern.model import Actor

RECONSENT_AGE = 16
OWN_CONSENT_AGE = 13


class ConsentLevel(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class GivenBy(StrEnum):
    PARENT = "parent"
    YOUNG_PERSON = "young_person"


class ContactPermission(StrEnum):
    DIRECT = "direct"
    VIA_CARE_TEAM = "via_care_team"
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentRecord:
    consent_id: str
    birth_month: str
    level: ConsentLevel
    given_by: GivenBy
    information_sheet_version: str
    recorded_by: str
    recorded_on: date
    recorded_at: datetime  # when it was written (UTC): orders records made on the same day


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactAnswer:
    permission: ContactPermission
    why: str
    consent_id: str | None


def record_consent(
    con: duckdb.DuckDBPyConnection,
    child: ChildKey,
    *,
    level: ConsentLevel,
    given_by: GivenBy,
    information_sheet_version: str,
    actor: Actor,
    today: date,
) -> ConsentRecord:
    if not information_sheet_version.strip():
        raise UsageError("name the information sheet version the family read")
    if given_by is GivenBy.PARENT and child.age_years >= RECONSENT_AGE:
        raise UsageError(f"at {RECONSENT_AGE} or over the young person consents for themselves")
    if given_by is GivenBy.YOUNG_PERSON and child.age_years < OWN_CONSENT_AGE:
        raise UsageError(f"under {OWN_CONSENT_AGE} a parent gives consent")
    record = ConsentRecord(
        consent_id="C" + uuid.uuid4().hex[:10],
        birth_month=child.birth_month,
        level=level,
        given_by=given_by,
        information_sheet_version=information_sheet_version,
        recorded_by=actor.actor_id,
        recorded_on=today,
        recorded_at=datetime.now(UTC).replace(tzinfo=None),
    )
    con.execute(
        "INSERT INTO govern__consent VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            record.consent_id,
            child.namespace,
            child.subject_key,
            child.birth_month,
            level.value,
            given_by.value,
            information_sheet_version,
            actor.actor_id,
            record.recorded_at,
            today,
        ],
    )
    return record


def sixteenth_birthday_month(birth_month: str) -> date:
    year, month = (int(p) for p in birth_month.split("-"))
    return date(year + RECONSENT_AGE, month, 1)


def judge_consent(records: list[ConsentRecord], today: date) -> ContactAnswer:
    """The contact permission from a child's consent records (latest first wins)."""
    if not records:
        return ContactAnswer(
            permission=ContactPermission.NONE, why="no consent to contact", consent_id=None
        )
    latest = max(records, key=lambda r: (r.recorded_on, r.recorded_at))
    if latest.level is ConsentLevel.RED:
        return ContactAnswer(
            permission=ContactPermission.NONE,
            why="consent to contact is red",
            consent_id=latest.consent_id,
        )
    if latest.given_by is GivenBy.PARENT and today >= sixteenth_birthday_month(latest.birth_month):
        return ContactAnswer(
            permission=ContactPermission.NONE,
            why=f"a parent's consent lapsed at {RECONSENT_AGE}: the young person must re-consent",
            consent_id=latest.consent_id,
        )
    if latest.level is ConsentLevel.AMBER:
        return ContactAnswer(
            permission=ContactPermission.VIA_CARE_TEAM,
            why="consent to contact is amber: through the care team only",
            consent_id=latest.consent_id,
        )
    return ContactAnswer(
        permission=ContactPermission.DIRECT,
        why="consent to contact is green",
        consent_id=latest.consent_id,
    )


_RECORD_COLUMNS = (
    "consent_id, birth_month, level, given_by, information_sheet_version, recorded_by, "
    "recorded_on, recorded_at"
)


def _record(row: tuple[object, ...]) -> ConsentRecord:
    cid, month, level, given_by, sheet, by, on, at = row
    assert isinstance(on, date) and isinstance(at, datetime)
    return ConsentRecord(
        consent_id=str(cid),
        birth_month=str(month),
        level=ConsentLevel(str(level)),
        given_by=GivenBy(str(given_by)),
        information_sheet_version=str(sheet),
        recorded_by=str(by),
        recorded_on=on,
        recorded_at=at,
    )


def consent_records_for_key(con: duckdb.DuckDBPyConnection, child: ChildKey) -> list[ConsentRecord]:
    rows = con.execute(
        f"SELECT {_RECORD_COLUMNS} FROM govern__consent WHERE namespace = ? AND subject_key = ? "
        "ORDER BY recorded_on, recorded_at",
        [child.namespace, child.subject_key],
    ).fetchall()
    return [_record(tuple(r)) for r in rows]


def consent_records_for_person(
    govern: duckdb.DuckDBPyConnection, store: duckdb.DuckDBPyConnection | None, person_id: str
) -> list[ConsentRecord]:
    """Every consent record whose key the person index maps to ``person_id``."""
    if store is None:
        return []
    try:
        keys = store.execute(
            "SELECT namespace, subject_key FROM link__subject_person WHERE person_id = ?",
            [person_id],
        ).fetchall()
    except duckdb.CatalogException:
        return []
    records: list[ConsentRecord] = []
    for namespace, subject_key in keys:
        rows = govern.execute(
            f"SELECT {_RECORD_COLUMNS} FROM govern__consent "
            "WHERE namespace = ? AND subject_key = ?",
            [namespace, subject_key],
        ).fetchall()
        records += [_record(tuple(r)) for r in rows]
    return records
