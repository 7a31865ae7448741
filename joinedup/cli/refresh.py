"""``joinedup node refresh``: rebuild a node's person index and linked store.

Adds the ``refresh`` command to the ``node`` group (``joinedup.cli.node.app``); importing this
module is what registers it (``joinedup.cli.commands`` does).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from joinedup.cli.gate import authorise
from joinedup.cli.node import app as node_app
from joinedup.cli.options import AsActorOpt, JsonOpt, NodeArg
from joinedup.cli.progress import progress_bar
from joinedup.config import load_node
from joinedup.govern import LOCAL_OPERATOR_ID, Action, ResourceKind
from joinedup.link import DEFAULT_METHOD, DEFAULT_THRESHOLD, METHODS, RefreshResult, refresh_node
from joinedup.link.engine import ENGINES

console = Console()


@node_app.command("refresh")
def refresh(
    node: NodeArg,
    json_output: JsonOpt = False,
    max_spine_ids: Annotated[
        int,
        typer.Option(
            "--max-spine-ids",
            min=1,
            help="How many ids of one spine register (school census, GP, case system) one "
            "person may hold before a guarded link into it is refused.",
        ),
    ] = 1,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="How records are linked: 'splink' (exact rules, then Splink 5 on what they "
            "left apart) or 'deterministic' (exact rules alone).",
        ),
    ] = DEFAULT_METHOD,
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain",
            help="Train the Splink model again even if NODE/link/model.json holds one trained "
            "with the same settings.",
        ),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Score every Splink pair and recompute the frozen term frequencies, instead of "
            "reusing the pair cache's scores for records whose identity did not change.",
        ),
    ] = False,
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            min=0.5,
            max=1.0,
            help="Match probability a Splink pair needs before it may join two persons.",
        ),
    ] = DEFAULT_THRESHOLD,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="Where Splink runs: 'duckdb' (in process) or 'spark' (the node's "
            "[engine] spark_master). Default: the node's [engine] linkage setting.",
        ),
    ] = None,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Rebuild the person index and the linked store from the vault and raw tables (atomic)."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.ADMINISTER_NODE, kind=ResourceKind.NODE, name="refresh")
    if method not in METHODS:
        console.print(f"[red]Unknown method {method!r}; choose one of {', '.join(METHODS)}[/]")
        raise typer.Exit(2)
    if engine is not None and engine not in ENGINES:
        console.print(f"[red]Unknown engine {engine!r}; choose one of {', '.join(ENGINES)}[/]")
        raise typer.Exit(2)
    options = {
        "engine": engine,
        "max_spine_ids": max_spine_ids,
        "method": method,
        "retrain": retrain,
        "full": full,
        "threshold": threshold,
    }
    if json_output:
        result = refresh_node(settings, **options)  # type: ignore[arg-type]
        console.print_json(json.dumps(result.as_dict()))
        return
    with progress_bar() as report:
        result = refresh_node(settings, report, **options)  # type: ignore[arg-type]
    _render(result)


def _render(result: RefreshResult) -> None:
    index = result.index
    console.print(
        f"Refreshed in {result.seconds:.1f} s (run {result.run_id}, {index.method}): "
        f"[bold]{index.persons:,}[/] persons from {index.records:,} identity records and "
        f"{index.subject_keys:,} subject keys"
    )
    rules = Table(title="Person index: records linked to another record, by best rule")
    rules.add_column("rule")
    rules.add_column("records", justify="right")
    rules.add_column("edges", justify="right")
    for name, count in index.records_linked_by.items():
        edges = index.edges_by_rule.get(name)
        rules.add_row(name, f"{count:,}", "" if edges is None else f"{edges:,}")
    console.print(rules)
    sizes = Table(title="Records per person")
    sizes.add_column("records")
    sizes.add_column("persons", justify="right")
    for bucket, count in index.size_distribution.items():
        sizes.add_row(bucket, f"{count:,}")
    console.print(sizes)
    for stage, report in result.stage_reports.items():
        console.print(
            f"{stage} ({report.get('engine', 'duckdb')}): model {report.get('model', '-')}, "
            f"{report.get('profiles', 0):,} profiles, "
            f"{report.get('pairs_at_threshold', 0):,} pairs at threshold, "
            f"{report.get('component_merges', 0):,} merges "
            f"({report.get('merges_refused_by_guard', 0):,} refused by the guard), "
            f"{report.get('seconds', 0)} s"
        )
        if "scoring" in report:
            because = report.get("full_because")
            console.print(
                f"  scoring {report['scoring']}"
                + (f" ({because})" if because else "")
                + f": {report.get('pairs_reused', 0):,} pairs reused from the pair cache, "
                f"{report.get('pairs_newly_scored', 0):,} newly scored; profiles "
                f"{report.get('profiles_unchanged', 0):,} unchanged, "
                f"{report.get('profiles_new_or_changed', 0):,} new or changed, "
                f"{report.get('profiles_removed', 0):,} gone"
            )
    if index.conflicts or index.guarded_keys_rejected:
        console.print(
            f"Over-merge guard: {index.guarded_keys_rejected:,} guarded keys refused; flagged "
            "persons: " + (", ".join(f"{k} {v:,}" for k, v in index.conflicts.items()) or "none")
        )
    tables = Table(title="Linked store")
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    for name, count in result.table_counts.items():
        tables.add_row(name, f"{count:,}")
    console.print(tables)
    if result.empty_inputs:
        console.print(
            f"{len(result.empty_inputs)} raw or reference tables not ingested yet were read as "
            "empty: " + ", ".join(result.empty_inputs)
        )
