"""Where a node keeps its outputs: ``outputs.duckdb`` (the ledger and review queue),
``outputs/staging/<release id>/`` (every output's files, released or not, inside the node) and
``outputs/released/<project>/`` (the only folder anything leaves from, with its ACRO-format
``results.json``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from joinedup.config import NodeSettings
from joinedup.outputs.ledger import LEDGER
from joinedup.outputs.profiles import JOINEDUP, RuleProfile
from joinedup.outputs.session import OutputSession

LEDGER_FILE = "outputs.duckdb"


def ledger_path(settings: NodeSettings) -> Path:
    return settings.root / LEDGER_FILE


def staging_dir(settings: NodeSettings) -> Path:
    return settings.root / "outputs" / "staging"


def release_dir(settings: NodeSettings, project_id: str) -> Path:
    return settings.root / "outputs" / "released" / project_id


def open_output_session(
    settings: NodeSettings,
    con: duckdb.DuckDBPyConnection,
    *,
    project_id: str,
    actor: str,
    profile: RuleProfile = JOINEDUP,
    person: str = "person_id",
) -> OutputSession:
    """An output session on ``con`` (the data) with the node's ledger attached."""
    return OutputSession(
        con,
        project_id=project_id,
        release_dir=release_dir(settings, project_id),
        staging_dir=staging_dir(settings),
        profile=profile,
        actor=actor,
        person=person,
        ledger_path=ledger_path(settings),
    )


def project_of(con: duckdb.DuckDBPyConnection, release_id: str) -> str | None:
    row = con.execute(
        f"SELECT project_id FROM {LEDGER}.out__releases WHERE release_id = ?",  # noqa: S608
        [release_id],
    ).fetchone()
    return None if row is None else str(row[0])
