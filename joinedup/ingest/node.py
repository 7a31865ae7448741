"""Create a node and report on it.

``init_node(folder)`` makes a node folder: ``node.toml``, ``secret.key`` (mode 0600),
``vault.duckdb`` and ``store.duckdb`` with the vault tables, the ``ingest__*`` tables and every
contract's raw, reference and quarantine tables. ``node_status`` lists the batches loaded and
counts what the vault and store hold (counts only, never values).

Invariant: an existing node is never overwritten (its key would be lost, and with it every
pseudonym); a failed init leaves no half-made node behind.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from joinedup.config import (
    DEFAULT_KEY_FILE,
    DEFAULT_STORE_FILE,
    DEFAULT_VAULT_FILE,
    NODE_FILE,
    NodeSettings,
    load_node,
    write_node_file,
)
from joinedup.errors import ConfigError
from joinedup.identity.secret_key import create_secret_key
from joinedup.identity.vault import create_vault_tables
from joinedup.ingest.load import create_contract_tables
from joinedup.ingest.session import NodeSession
from joinedup.sources import CONTRACTS
from joinedup.store.schema import create_ingest_tables

_NODE_FILES = (NODE_FILE, DEFAULT_KEY_FILE, DEFAULT_VAULT_FILE, DEFAULT_STORE_FILE)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchSummary:
    batch_id: str
    source: str
    file_name: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    read: int
    accepted: int
    quarantined: int
    flagged: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStatus:
    settings: NodeSettings
    batches: tuple[BatchSummary, ...]
    identity_records: int
    keys: int
    postcodes: int


def init_node(folder: Path | str, *, name: str | None = None) -> NodeSettings:
    """Create a new node in ``folder`` (created if absent; must not already hold node files)."""
    root = Path(folder).resolve()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists and is not a folder")
    clashes = [f for f in _NODE_FILES if (root / f).exists()]
    if clashes:
        raise ConfigError(
            f"{root} already holds {', '.join(clashes)}; a node is never overwritten "
            "(choose an empty folder)"
        )
    created_folder = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    if created_folder:
        root.chmod(0o700)  # the vault's write-ahead log lands here too
    made: list[Path] = []
    try:
        settings = write_node_file(root, name or root.name)
        made.append(root / NODE_FILE)
        create_secret_key(settings.key_path)
        made.append(settings.key_path)
        for path, create in (
            (settings.vault_path, create_vault_tables),
            (settings.store_path, create_ingest_tables),
        ):
            made.append(path)
            with duckdb.connect(str(path)) as con:
                create(con)
            path.chmod(0o600)
        with NodeSession(settings) as session:
            create_contract_tables(session, CONTRACTS)
    except BaseException:
        for path in made:
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".wal").unlink(missing_ok=True)
        if created_folder:
            shutil.rmtree(root, ignore_errors=True)
        raise
    return load_node(root)


def node_status(node: NodeSettings) -> NodeStatus:
    """Batches loaded into the node (newest first) with their counts, and vault totals."""
    with NodeSession(node) as session:
        rows = session.con.execute(
            "SELECT b.batch_id, b.source, b.file_name, b.status, b.started_at, b.finished_at, "
            "coalesce(sum(c.read), 0), coalesce(sum(c.accepted), 0), "
            "coalesce(sum(c.quarantined), 0), coalesce(sum(c.flagged), 0) "
            "FROM store.ingest__batches b LEFT JOIN store.ingest__file_counts c USING (batch_id) "
            "GROUP BY ALL ORDER BY b.started_at DESC, b.batch_id"
        ).fetchall()
        totals = session.con.execute(
            "SELECT (SELECT count(*) FROM vault.vault__identities), "
            "(SELECT count(*) FROM vault.vault__keys), "
            "(SELECT count(*) FROM vault.vault__postcode_lsoa)"
        ).fetchone() or (0, 0, 0)
    return NodeStatus(
        settings=node,
        batches=tuple(
            BatchSummary(
                batch_id=r[0],
                source=r[1],
                file_name=r[2],
                status=r[3],
                started_at=r[4],
                finished_at=r[5],
                read=int(r[6]),
                accepted=int(r[7]),
                quarantined=int(r[8]),
                flagged=int(r[9]),
            )
            for r in rows
        ),
        identity_records=int(totals[0]),
        keys=int(totals[1]),
        postcodes=int(totals[2]),
    )
