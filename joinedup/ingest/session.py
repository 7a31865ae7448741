"""A working connection to one node: an in-memory DuckDB with the vault and the store attached.

The vault is attached as ``vault`` and the store as ``store``; staging and validation happen in
the in-memory catalog. The pseudonym and name-normalising functions and the identifier functions are
registered on the connection. Opening a session sweeps away any batch a crash left
``in_progress``, so a half-written load never survives.

Invariants: the secret key lives only in the pseudonym function's closure; a DuckDB transaction
writes to one attached database only (vault or store), never both.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from types import TracebackType

import duckdb

from joinedup.config import NodeSettings
from joinedup.errors import ConfigError
from joinedup.identity.normalise import register_normalise_name_function
from joinedup.identity.pseudonym import register_pseudonym_function
from joinedup.identity.secret_key import read_secret_key
from joinedup.identity.sql_functions import register_identity_functions
from joinedup.identity.vault import create_vault_tables, remove_vault_batch
from joinedup.store.schema import create_ingest_tables, remove_store_batch

log = logging.getLogger(__name__)

VAULT = "vault"
STORE = "store"


def _path_literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class NodeSession:
    """An open node. Use as a context manager; ``con`` is the DuckDB connection."""

    def __init__(self, node: NodeSettings) -> None:
        for path, what in ((node.vault_path, "vault"), (node.store_path, "store")):
            if not path.is_file():
                raise ConfigError(
                    f"the node's {what} database {path} is missing; was the node moved or "
                    "partly deleted?"
                )
        self.node = node
        key = read_secret_key(node.key_path)
        self.con = duckdb.connect(config=node.duckdb_config())
        try:
            self.con.execute(f"ATTACH {_path_literal(node.vault_path)} AS {VAULT}")
            self.con.execute(f"ATTACH {_path_literal(node.store_path)} AS {STORE}")
        except duckdb.Error as exc:
            self.con.close()
            raise ConfigError(
                f"cannot open the node's databases in {node.root} (is another joinedup "
                f"process using them?): {type(exc).__name__}"
            ) from None
        register_pseudonym_function(self.con, key)
        register_normalise_name_function(self.con)
        register_identity_functions(self.con)
        self.use(VAULT)
        create_vault_tables(self.con)
        self.use(STORE)
        create_ingest_tables(self.con)
        self.use("memory")
        self.sweep_unfinished_batches()

    def use(self, catalog: str) -> None:
        """Make ``catalog`` (``vault``, ``store`` or ``memory``) the default for DDL."""
        if catalog not in (VAULT, STORE, "memory"):
            raise ValueError("unknown catalog")
        self.con.execute(f"USE {catalog}")

    def store_tables(self, source: str) -> list[str]:
        """Store tables a batch of ``source`` may have written (raw and reference tables)."""
        rows = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
            "AND (starts_with(table_name, ?) OR starts_with(table_name, 'ref__'))",
            [STORE, f"raw__{source}__"],
        ).fetchall()
        return [r[0] for r in rows]

    def remove_batch(self, batch_id: str, source: str) -> None:
        """Delete one batch's rows from the vault, then from the store (each one transaction)."""
        self.rollback_quietly()
        tables = self.store_tables(source)
        self.use(VAULT)
        try:
            self.con.execute("BEGIN TRANSACTION")
            remove_vault_batch(self.con, batch_id, source)
            self.con.execute("COMMIT")
            self.use(STORE)
            self.con.execute("BEGIN TRANSACTION")
            remove_store_batch(self.con, batch_id, tables)
            self.con.execute("COMMIT")
        finally:
            self.use("memory")

    def rollback_quietly(self) -> None:
        """Roll back an open transaction, if there is one."""
        with contextlib.suppress(duckdb.Error):  # no transaction was open
            self.con.execute("ROLLBACK")

    def sweep_unfinished_batches(self) -> int:
        """Remove every batch left ``in_progress`` (a crashed load); returns how many."""
        rows = self.con.execute(
            "SELECT batch_id, source FROM store.ingest__batches WHERE status = 'in_progress'"
        ).fetchall()
        for batch_id, source in rows:
            log.warning("removing batch %s of source %s left unfinished", batch_id, source)
            self.remove_batch(batch_id, source)
        return len(rows)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> NodeSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
