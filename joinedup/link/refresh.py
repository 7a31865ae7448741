"""Refresh a node: rebuild the person index and the linked store from the vault and raw tables.

``refresh_node(node)`` opens ``store.duckdb``, attaches ``vault.duckdb`` read-only, builds the
index (``link__record_person``, ``link__subject_person``, ``link__conflicts``) and every
``store__*`` table under the suffix ``__next``, then swaps them all in and appends a row to
``link__runs`` in one transaction. A failed refresh leaves the previous store as it was.

Invariants:
- the node's secret key is read from ``secret.key`` and held only in this session's variables;
- ``link__runs`` rows hold the method, the rules, timings and counts (``linkage``: each
  stage's report, e.g. the Splink stage's pairs reused from its pair cache and newly scored),
  never a value;
- progress callbacks receive step names and counts only.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from joinedup.config import NodeSettings, load_node
from joinedup.errors import ConfigError
from joinedup.identity.secret_key import read_secret_key
from joinedup.link.deterministic import (
    RULES_BEFORE_SPLINK,
    DeterministicStage,
    spine_guards,
    subject_tables,
)
from joinedup.link.engine import DUCKDB, EngineSpec
from joinedup.link.index import (
    IndexResult,
    IndexSettings,
    build_person_index,
    drop_pseudonym_macro,
    install_pseudonym_macro,
)
from joinedup.link.model_artefact import model_path
from joinedup.link.probabilistic import DEFAULT_THRESHOLD, SplinkStage
from joinedup.link.review import ReviewDecisionsStage
from joinedup.link.stages import LinkStage
from joinedup.store.linked import (
    STORE_TABLES,
    LinkTables,
    build_store_tables,
    current_batches,
    publish_tables,
    read_current_batches,
)
from joinedup.store.schema import quote_identifier
from joinedup.store.secondary import publish_secondary_views, read_dissent_register

NEXT = "__next"
LINK_TABLES = ("link__record_person", "link__subject_person", "link__conflicts")

ProgressCallback = Callable[[str, int, int], None]
"""``(step name, steps done, steps in all)``."""

LINK_RUNS_DDL = (
    "CREATE TABLE IF NOT EXISTS link__runs ("
    "run_id VARCHAR PRIMARY KEY, method VARCHAR NOT NULL, rules VARCHAR NOT NULL, "
    "started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL, records BIGINT NOT NULL, "
    "subject_keys BIGINT NOT NULL, persons BIGINT NOT NULL, "
    "persons_with_records BIGINT NOT NULL, unlinked_records BIGINT NOT NULL, "
    "edges_by_rule VARCHAR NOT NULL, records_linked_by VARCHAR NOT NULL, "
    "size_distribution VARCHAR NOT NULL, conflicts VARCHAR NOT NULL, "
    "guarded_keys_rejected BIGINT NOT NULL, store_rows VARCHAR NOT NULL, "
    "empty_inputs VARCHAR NOT NULL, linkage VARCHAR)"
)
# link__runs made before stage reports were kept gain the column on their next refresh
LINK_RUNS_MIGRATION = "ALTER TABLE link__runs ADD COLUMN IF NOT EXISTS linkage VARCHAR"


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshResult:
    run_id: str
    index: IndexResult
    table_counts: Mapping[str, int]
    empty_inputs: tuple[str, ...]  # raw/ref tables not ingested yet (read as empty)
    started_at: datetime
    finished_at: datetime
    seconds: float
    # per stage that reports one (the Splink stage): counts and seconds, never values
    stage_reports: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary (counts only)."""
        return {
            "run_id": self.run_id,
            "method": self.index.method,
            "records": self.index.records,
            "subject_keys": self.index.subject_keys,
            "persons": self.index.persons,
            "persons_with_records": self.index.persons_with_records,
            "records_linked_by": dict(self.index.records_linked_by),
            "unlinked_records": self.index.unlinked_records,
            "edges_by_rule": dict(self.index.edges_by_rule),
            "size_distribution": dict(self.index.size_distribution),
            "conflicts": dict(self.index.conflicts),
            "guarded_keys_rejected": self.index.guarded_keys_rejected,
            "table_counts": dict(self.table_counts),
            "empty_inputs": list(self.empty_inputs),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "stage_reports": {k: dict(v) for k, v in self.stage_reports.items()},
        }


METHODS = ("splink", "deterministic")
DEFAULT_METHOD = "splink"


def default_stages(
    method: str = DEFAULT_METHOD,
    *,
    node_root: Path | None = None,
    retrain: bool = False,
    full: bool = False,
    threshold: float | None = None,
    engine: EngineSpec = DUCKDB,
) -> tuple[LinkStage, ...]:
    """The stages of a method: ``deterministic`` (exact rules alone) or ``splink`` (exact rules,
    then Splink on what they left apart, its model kept at ``<node_root>/link/model.json``).
    Either ends with the review stage, which applies reviewers' decisions (none: no change).
    ``full`` makes the Splink stage score every pair rather than reuse its pair cache."""
    if method == "deterministic":
        return (DeterministicStage(), ReviewDecisionsStage())
    if method == "splink":
        return (
            DeterministicStage(rules=RULES_BEFORE_SPLINK),
            SplinkStage(
                model_path=None if node_root is None else model_path(node_root),
                retrain=retrain,
                full=full,
                threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
                engine=engine,
            ),
            ReviewDecisionsStage(),
        )
    raise ConfigError(f"unknown linkage method {method!r}; choose one of {', '.join(METHODS)}")


def node_engine(settings: NodeSettings, name: str | None = None) -> EngineSpec:
    """The node's linkage engine (``[engine] linkage`` in node.toml, or ``name`` if given)."""
    return EngineSpec(
        name=settings.linkage_engine if name is None else name,
        spark_master=settings.spark_master,
        spark_driver_memory=settings.spark_driver_memory,
        checkpoint_dir=settings.spark_checkpoint_path,
    )


def refresh_node(
    node: NodeSettings | Path | str,
    progress: ProgressCallback | None = None,
    *,
    stages: tuple[LinkStage, ...] | None = None,
    max_spine_ids: int = 1,
    method: str = DEFAULT_METHOD,
    retrain: bool = False,
    full: bool = False,
    threshold: float | None = None,
    engine: str | None = None,
) -> RefreshResult:
    """Rebuild the person index and the linked store of ``node`` (see the module docstring).

    ``stages`` overrides ``method`` (``splink``, the default, or ``deterministic``);
    ``retrain``, ``full`` and ``threshold`` are the Splink stage's (see
    ``joinedup.link.probabilistic``: ``full`` scores every pair instead of reusing the pair
    cache, ``joinedup.link.pair_cache``);
    ``engine`` (``duckdb`` or ``spark``) overrides the node's ``[engine] linkage`` setting.
    """
    settings = node if isinstance(node, NodeSettings) else load_node(node)
    if not settings.vault_path.is_file():
        raise ConfigError(
            f"{settings.vault_path} does not exist; ingest at least one extract before refresh"
        )
    key = read_secret_key(settings.key_path)
    if stages is None:
        stages = default_stages(
            method,
            node_root=settings.root,
            retrain=retrain,
            full=full,
            threshold=threshold,
            engine=node_engine(settings, engine),
        )
    steps = [
        "records",
        *(f"stage {s.name}" for s in stages),
        "person ids",
        *(t.name for t in STORE_TABLES),
        "publish",
    ]
    done = 0

    def advance(step: str) -> None:
        nonlocal done
        if progress is not None:
            progress(step, done, len(steps))
        done += 1

    def stage_reports() -> dict[str, dict[str, object]]:
        return {
            s.name: dict(report)
            for s in stages
            if isinstance(report := getattr(s, "report", None), dict)
        }

    started_at = datetime.now(UTC)
    t0 = time.perf_counter()
    run_id = f"{started_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    con = duckdb.connect(str(settings.store_path), config=settings.duckdb_config())
    try:
        con.execute("SET enable_progress_bar = false")
        attach_vault(con, settings.vault_path)
        batches = current_batches(con)
        read_current_batches(con, batches)
        install_pseudonym_macro(con, key)
        try:
            index = build_person_index(
                con,
                IndexSettings(
                    stages=stages,
                    spine_guards=spine_guards(max_spine_ids),
                    subject_tables=subject_tables(),
                    table_suffix=NEXT,
                    batch_ids=batches,
                ),
                on_step=advance,
            )
        finally:
            drop_pseudonym_macro(con)
        built = build_store_tables(
            con,
            link=LinkTables(
                record_person="link__record_person" + NEXT,
                subject_person="link__subject_person" + NEXT,
                conflicts="link__conflicts" + NEXT,
            ),
            suffix=NEXT,
            on_table=advance,
        )
        counts, empty_inputs = built.table_counts, built.empty_inputs
        advance("publish")
        # govern: opt-outs leave every view__secondary__* view (joinedup.store.secondary)
        dissent = read_dissent_register(settings.root)
        finished_holder: list[datetime] = []

        def record_run(c: duckdb.DuckDBPyConnection) -> None:
            finished = datetime.now(UTC)
            finished_holder.append(finished)
            _record_run(
                c, run_id, index, counts, empty_inputs, started_at, finished, stage_reports()
            )
            publish_secondary_views(c, dissent)

        publish_tables(con, [*LINK_TABLES, *(t.name for t in STORE_TABLES)], NEXT, also=record_run)
        if progress is not None:
            progress("done", len(steps), len(steps))
    except BaseException:
        _drop_staged(con)
        raise
    finally:
        con.close()
    return RefreshResult(
        run_id=run_id,
        index=index,
        table_counts=counts,
        empty_inputs=empty_inputs,
        started_at=started_at,
        finished_at=finished_holder[0],
        seconds=time.perf_counter() - t0,
        stage_reports=stage_reports(),
    )


def attach_vault(con: duckdb.DuckDBPyConnection, vault_path: Path) -> None:
    """Attach the vault read-only as ``vault`` (ATTACH takes no bound parameter, so the path,
    which is configuration and never a row value, is written as an escaped literal)."""
    literal = "'" + str(vault_path).replace("'", "''") + "'"
    con.execute(f"ATTACH {literal} AS vault (READ_ONLY)")


def _record_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    index: IndexResult,
    counts: Mapping[str, int],
    empty_inputs: tuple[str, ...],
    started_at: datetime,
    finished_at: datetime,
    stage_reports: Mapping[str, Mapping[str, object]],
) -> None:
    con.execute(LINK_RUNS_DDL)
    con.execute(LINK_RUNS_MIGRATION)
    rules = [
        {"name": r.name, "strength": r.strength.value, "description": r.description}
        for r in index.rules
    ]
    con.execute(
        "INSERT INTO link__runs (run_id, method, rules, started_at, finished_at, records, "
        "subject_keys, persons, persons_with_records, unlinked_records, edges_by_rule, "
        "records_linked_by, size_distribution, conflicts, guarded_keys_rejected, store_rows, "
        "empty_inputs, linkage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            index.method,
            json.dumps(rules),
            started_at.replace(tzinfo=None),
            finished_at.replace(tzinfo=None),
            index.records,
            index.subject_keys,
            index.persons,
            index.persons_with_records,
            index.unlinked_records,
            json.dumps(dict(index.edges_by_rule)),
            json.dumps(dict(index.records_linked_by)),
            json.dumps(dict(index.size_distribution)),
            json.dumps(dict(index.conflicts)),
            index.guarded_keys_rejected,
            json.dumps(dict(counts)),
            json.dumps(list(empty_inputs)),
            json.dumps({k: dict(v) for k, v in stage_reports.items()}, default=str),
        ],
    )


def _drop_staged(con: duckdb.DuckDBPyConnection) -> None:
    try:
        for name in [*LINK_TABLES, *(t.name for t in STORE_TABLES)]:
            con.execute(f"DROP TABLE IF EXISTS {quote_identifier(name + NEXT)}")
    except duckdb.Error:
        pass  # the original error matters more; staged tables are replaced on the next run
