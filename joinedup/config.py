"""Node settings: read once from ``node.toml`` at the entry point and passed down, frozen.

A node is a folder holding ``node.toml``, ``secret.key``, ``vault.duckdb`` and ``store.duckdb``.
``node.toml`` is checked through a pydantic model at this edge; inside the library the settings
are the frozen ``NodeSettings``. Nothing below the CLI reads the process environment.

Invariants: ``NodeSettings`` paths are absolute and inside the node folder; a folder that is not
a node, or whose ``node.toml`` is malformed or of an unknown format version, raises ConfigError.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from joinedup.errors import ConfigError

NODE_FILE = "node.toml"
NODE_FORMAT_VERSION = 1
DEFAULT_VAULT_FILE = "vault.duckdb"
DEFAULT_STORE_FILE = "store.duckdb"
DEFAULT_KEY_FILE = "secret.key"
# DuckDB's own default is 80% of RAM; a node shares its machine, so it is capped and spills to
# the node's tmp/ folder instead.
DEFAULT_MEMORY_LIMIT = "4GB"
DEFAULT_THREADS = 2
TEMP_FOLDER = "tmp"
# Where Splink runs for the person index: DuckDB in process, or Spark (joinedup.link.engine);
# Spark's master URL is local[N] on one machine, spark://HOST:PORT (or yarn, k8s://) on a cluster.
DEFAULT_LINKAGE_ENGINE: Literal["duckdb", "spark"] = "duckdb"
DEFAULT_SPARK_MASTER = "local[2]"
# Spark's driver heap (Spark's size format); on local[N] the driver also does the executors' work
DEFAULT_SPARK_DRIVER_MEMORY = "1g"


class _NodePaths(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vault: str = DEFAULT_VAULT_FILE
    store: str = DEFAULT_STORE_FILE
    secret_key: str = DEFAULT_KEY_FILE


class _NodeEngine(BaseModel):
    """How the embedded database may use the machine (DuckDB settings)."""

    model_config = ConfigDict(extra="forbid")

    memory_limit: str = Field(
        default=DEFAULT_MEMORY_LIMIT, pattern=r"^[0-9]+(\.[0-9]+)?\s*[KMGT]i?B$"
    )
    threads: int = Field(default=DEFAULT_THREADS, ge=1, le=256)
    linkage: Literal["duckdb", "spark"] = DEFAULT_LINKAGE_ENGINE
    spark_master: str = Field(default=DEFAULT_SPARK_MASTER, min_length=1, max_length=500)
    spark_driver_memory: str = Field(
        default=DEFAULT_SPARK_DRIVER_MEMORY, pattern=r"^[0-9]+[kmgtKMGT]$"
    )


class _NodeFile(BaseModel):
    """The shape of ``node.toml``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    created: datetime
    format_version: int
    paths: _NodePaths = _NodePaths()
    engine: _NodeEngine = _NodeEngine()


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSettings:
    """Where a node's files are, and what it is called."""

    root: Path
    name: str
    created: datetime
    format_version: int
    vault_path: Path
    store_path: Path
    key_path: Path
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    threads: int = DEFAULT_THREADS
    linkage_engine: str = DEFAULT_LINKAGE_ENGINE
    spark_master: str = DEFAULT_SPARK_MASTER
    spark_driver_memory: str = DEFAULT_SPARK_DRIVER_MEMORY

    @property
    def temp_path(self) -> Path:
        """Where DuckDB spills work that does not fit in ``memory_limit``."""
        return self.root / TEMP_FOLDER

    @property
    def spark_checkpoint_path(self) -> Path:
        """Where Spark checkpoints Splink's intermediate tables (local masters)."""
        return self.temp_path / "spark"

    def duckdb_config(self) -> dict[str, str | bool | int | float | list[str]]:
        """The settings every DuckDB connection to this node's databases is opened with."""
        return {
            "memory_limit": self.memory_limit,
            "threads": self.threads,
            "temp_directory": str(self.temp_path),
        }


def _inside(root: Path, relative: str, field: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ConfigError(
            f"{root / NODE_FILE}: paths.{field} must name a file inside the node folder"
        )
    return path


def _settings_from(root: Path, parsed: _NodeFile) -> NodeSettings:
    return NodeSettings(
        root=root,
        name=parsed.name,
        created=parsed.created,
        format_version=parsed.format_version,
        vault_path=_inside(root, parsed.paths.vault, "vault"),
        store_path=_inside(root, parsed.paths.store, "store"),
        key_path=_inside(root, parsed.paths.secret_key, "secret_key"),
        memory_limit=parsed.engine.memory_limit,
        threads=parsed.engine.threads,
        linkage_engine=parsed.engine.linkage,
        spark_master=parsed.engine.spark_master,
        spark_driver_memory=parsed.engine.spark_driver_memory,
    )


def load_node(path: Path | str) -> NodeSettings:
    """The settings of the node in folder ``path``; ConfigError if it is not a node."""
    root = Path(path).resolve()
    node_file = root / NODE_FILE
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder; create a node with: joinedup node init {root}")
    if not node_file.is_file():
        raise ConfigError(
            f"{root} is not a joinedup node (no {NODE_FILE}); "
            f"create one with: joinedup node init {root}"
        )
    try:
        raw = tomllib.loads(node_file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{node_file} is not valid TOML: {exc}") from None
    try:
        parsed = _NodeFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{node_file} is malformed ({problems})") from None
    if parsed.format_version != NODE_FORMAT_VERSION:
        raise ConfigError(
            f"{node_file} has format version {parsed.format_version}; this joinedup reads "
            f"version {NODE_FORMAT_VERSION}"
        )
    return _settings_from(root, parsed)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def write_node_file(root: Path, name: str, *, created: datetime | None = None) -> NodeSettings:
    """Write a new ``node.toml`` into ``root`` (which must not hold one) and return its settings."""
    root = root.resolve()
    parsed = _NodeFile(
        name=name,
        created=created or datetime.now(UTC).replace(microsecond=0),
        format_version=NODE_FORMAT_VERSION,
    )
    text = "\n".join(
        (
            "# joinedup node settings",
            f"name = {_toml_string(parsed.name)}",
            f"created = {parsed.created.isoformat()}",
            f"format_version = {parsed.format_version}",
            "",
            "[paths]",
            f"vault = {_toml_string(parsed.paths.vault)}",
            f"store = {_toml_string(parsed.paths.store)}",
            f"secret_key = {_toml_string(parsed.paths.secret_key)}",
            "",
            "[engine]",
            "# DuckDB: memory it may use before spilling to tmp/, and worker threads",
            f"memory_limit = {_toml_string(parsed.engine.memory_limit)}",
            f"threads = {parsed.engine.threads}",
            '# Splink for the person index: "duckdb" (in process) or "spark"; Spark\'s master',
            "# is local[N] on this machine, or a cluster's URL (spark://HOST:7077, yarn, k8s://...)",
            f"linkage = {_toml_string(parsed.engine.linkage)}",
            f"spark_master = {_toml_string(parsed.engine.spark_master)}",
            f"spark_driver_memory = {_toml_string(parsed.engine.spark_driver_memory)}",
            "",
        )
    )
    try:
        with (root / NODE_FILE).open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise ConfigError(
            f"{root} is already a joinedup node; it will not be overwritten"
        ) from None
    return _settings_from(root, parsed)
