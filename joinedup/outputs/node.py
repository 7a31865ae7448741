"""Where a node keeps its outputs: ``outputs.duckdb`` (the ledger and review queue),
``outputs/staging/<release id>/`` (every output's files, released or not, inside the node) and
``outputs/released/<project>/`` (the only folder anything leaves from, with its ACRO-format
``results.json``).

``vote_on_output`` is the one way a checker's vote reaches the queue, for the CLI and the web app
alike (each has decided ``review_output`` through ``govern.decide`` before calling it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from joinedup.config import NodeSettings
from joinedup.errors import UsageError
from joinedup.outputs import review
from joinedup.outputs.ledger import LEDGER
from joinedup.outputs.profiles import JOINEDUP, RuleProfile
from joinedup.outputs.session import OutputSession, attach_ledger

# What a checker reads of a staged text output on the web page (the rest is in the file).
STAGED_TEXT_LIMIT = 20_000
TEXT_SUFFIXES = (".md", ".txt", ".csv")

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


@contextmanager
def open_ledger(settings: NodeSettings) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection with the node's ledger attached as ``ledger``."""
    con = duckdb.connect()
    try:
        attach_ledger(con, ledger_path(settings))
        yield con
    finally:
        con.close()


def vote_on_output(
    settings: NodeSettings, release_id: str, *, checker: str, approve: bool, comment: str = ""
) -> review.ReviewItem:
    """A checker's vote; a second approval releases the output. Raises ``review.VoteRefused``
    for self-review or a second vote, ``UsageError`` for an unknown or decided output."""
    with open_ledger(settings) as con:
        project = project_of(con, release_id)
        if project is None:
            raise UsageError(
                f"no output {release_id!r} on this node (see `joinedup output review`)"
            )
        session = open_output_session(settings, con, project_id=project, actor=checker)
        return session.vote(release_id, checker=checker, approve=approve, comment=comment)


def staged_text(settings: NodeSettings, release_id: str) -> tuple[tuple[str, str], ...]:
    """The staged text files of an output (name, text up to ``STAGED_TEXT_LIMIT`` characters),
    for a checker to read; other files are named with an empty text."""
    folder = staging_dir(settings) / release_id
    if not release_id.replace("_", "").isalnum() or not folder.is_dir():
        return ()
    out = []
    for path in sorted(folder.iterdir()):
        text = ""
        if path.suffix.lower() in TEXT_SUFFIXES:
            with path.open(encoding="utf-8", errors="replace") as handle:
                text = handle.read(STAGED_TEXT_LIMIT)
        out.append((path.name, text))
    return tuple(out)
