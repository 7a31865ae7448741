"""The governance database of a node: ``govern.duckdb`` beside the vault and the store.

It holds the actors, projects and their reviews and signatures, the dissent (opt-out) register,
the consent-to-contact register, break-glass alerts and the audit chain (``audit__events``).
It is kept apart from ``store.duckdb`` so that a refresh (which rewrites the store) can never
touch the record of who did what, and from ``vault.duckdb`` because it holds no identifier:
children are named only by keyed pseudonyms.

Invariants:
- every connection is short-lived (opened per operation, closed at once), so the CLI, a refresh
  and the web app can take turns on the file; a busy file is retried for a few seconds;
- the one exception is a ``GovernSession`` (``open_session``): both connections held open for a
  run of decisions in one process (a batch, a test module); it must not outlive the run, and
  nothing may refresh the store while it is open;
- the schema is created on every read-write open (``CREATE ... IF NOT EXISTS``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from joinedup.config import NodeSettings, load_node
from joinedup.errors import NodeBusy
from joinedup.store.secondary import DISSENT_DDL, GOVERN_FILE, WITHDRAWAL_DDL

_DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS govern__actors ("
    "actor_id VARCHAR PRIMARY KEY, display_name VARCHAR NOT NULL, role VARCHAR NOT NULL, "
    "org_id VARCHAR NOT NULL, org_kind VARCHAR NOT NULL, org_name VARCHAR NOT NULL, "
    "org_code VARCHAR, org_urns VARCHAR NOT NULL, accredited_until DATE, ig_training_on DATE, "
    "is_lay BOOLEAN NOT NULL, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS govern__projects ("
    "project_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, purpose VARCHAR NOT NULL, "
    "applicant_id VARCHAR NOT NULL, members VARCHAR NOT NULL, lay_summary VARCHAR NOT NULL, "
    "public_benefit VARCHAR NOT NULL, legal_basis VARCHAR NOT NULL, "
    "ethics_reference VARCHAR, datasets VARCHAR NOT NULL, variables VARCHAR NOT NULL, "
    "cohort VARCHAR NOT NULL, setting VARCHAR NOT NULL, outputs VARCHAR NOT NULL, "
    "applied_on DATE NOT NULL, expires_on DATE NOT NULL)",
    # cohorts pinned (canonical JSON + SHA-256); NULL for projects recorded before them
    "ALTER TABLE govern__projects ADD COLUMN IF NOT EXISTS cohort_spec VARCHAR",
    "ALTER TABLE govern__projects ADD COLUMN IF NOT EXISTS cohort_sha256 VARCHAR",
    "CREATE TABLE IF NOT EXISTS govern__project_reviews ("
    "project_id VARCHAR NOT NULL, reviewer_id VARCHAR NOT NULL, is_lay BOOLEAN NOT NULL, "
    "decision VARCHAR NOT NULL, conditions VARCHAR, reviewed_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS govern__project_signatures ("
    "project_id VARCHAR NOT NULL, signer_id VARCHAR NOT NULL, signed_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS govern__released_outputs ("
    "project_id VARCHAR NOT NULL, output_name VARCHAR NOT NULL, released_on DATE NOT NULL)",
    DISSENT_DDL,
    WITHDRAWAL_DDL,
    "CREATE TABLE IF NOT EXISTS govern__consent ("
    "consent_id VARCHAR PRIMARY KEY, namespace VARCHAR NOT NULL, subject_key VARCHAR NOT NULL, "
    "birth_month VARCHAR NOT NULL, level VARCHAR NOT NULL, given_by VARCHAR NOT NULL, "
    "information_sheet_version VARCHAR NOT NULL, recorded_by VARCHAR NOT NULL, "
    "recorded_at TIMESTAMP NOT NULL, recorded_on DATE NOT NULL)",
    "CREATE TABLE IF NOT EXISTS govern__alerts ("
    "alert_id VARCHAR PRIMARY KEY, event_id VARCHAR NOT NULL, actor_id VARCHAR NOT NULL, "
    "person_id VARCHAR, reason VARCHAR NOT NULL, raised_at TIMESTAMP NOT NULL, "
    "recipient_role VARCHAR NOT NULL, status VARCHAR NOT NULL, reviewed_by VARCHAR, "
    "reviewed_at TIMESTAMP, review_outcome VARCHAR)",
    "ALTER TABLE govern__alerts ADD COLUMN IF NOT EXISTS kind VARCHAR DEFAULT 'break_glass'",
    "ALTER TABLE govern__alerts ADD COLUMN IF NOT EXISTS public_note VARCHAR",
    "CREATE TABLE IF NOT EXISTS govern__suspensions ("
    "actor_id VARCHAR NOT NULL, suspended_by VARCHAR NOT NULL, suspended_at TIMESTAMP NOT NULL, "
    "reason VARCHAR NOT NULL, lifted_by VARCHAR, lifted_at TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS audit__events ("
    "seq BIGINT PRIMARY KEY, event_id VARCHAR NOT NULL, recorded_at TIMESTAMP NOT NULL, "
    "actor_id VARCHAR NOT NULL, actor_role VARCHAR NOT NULL, org_id VARCHAR NOT NULL, "
    "action VARCHAR NOT NULL, resource_kind VARCHAR NOT NULL, resource_name VARCHAR NOT NULL, "
    "resource_level VARCHAR, person_id VARCHAR, purpose VARCHAR, purpose_of_use VARCHAR NOT NULL, "
    "project_id VARCHAR, outcome VARCHAR NOT NULL, reason VARCHAR NOT NULL, rule VARCHAR NOT NULL, "
    "break_glass BOOLEAN NOT NULL, alert_id VARCHAR, prev_hash VARCHAR NOT NULL, "
    "hash VARCHAR NOT NULL)",
)

_BUSY_RETRY_SECONDS = 10.0


def node_settings(node: NodeSettings | Path | str) -> NodeSettings:
    return node if isinstance(node, NodeSettings) else load_node(node)


def govern_path(settings: NodeSettings) -> Path:
    return settings.root / GOVERN_FILE


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + _BUSY_RETRY_SECONDS
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            # another process's lock (a refresh holds the store), or a connection of this
            # process opened in the other mode; anything else is not ours to wait out
            text = str(exc)
            if "Could not set lock" not in text and "different configuration" not in text:
                raise
            if time.monotonic() > deadline:
                raise NodeBusy(
                    f"{path.name} is busy: the node is refreshing or another process holds it; "
                    "try again in a few minutes"
                ) from None
            time.sleep(0.05)


@contextmanager
def open_govern(settings: NodeSettings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the node's ``govern.duckdb`` with its schema in place."""
    con = _connect(govern_path(settings), read_only=False)
    try:
        for ddl in _DDL:
            con.execute(ddl)
        yield con
    finally:
        con.close()


@contextmanager
def open_store_read_only(settings: NodeSettings) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """The store, read-only, or None when no store exists yet."""
    if not settings.store_path.is_file():
        yield None
        return
    con = _connect(settings.store_path, read_only=True)
    try:
        yield con
    finally:
        con.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class GovernSession:
    """Open connections to a node's ``govern.duckdb`` (read-write) and store (read-only, or None
    before the first refresh), for many ``decide`` calls without reopening the files."""

    settings: NodeSettings
    govern: duckdb.DuckDBPyConnection
    store: duckdb.DuckDBPyConnection | None


@contextmanager
def open_session(node: NodeSettings | Path | str) -> Iterator[GovernSession]:
    """A ``GovernSession`` on ``node``, closed when the block ends."""
    settings = node_settings(node)
    with open_govern(settings) as gov, open_store_read_only(settings) as store:
        yield GovernSession(settings=settings, govern=gov, store=store)


def store_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        str(r[0])
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views()"
        ).fetchall()
    }
