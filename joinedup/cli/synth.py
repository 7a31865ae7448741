"""``joinedup synth``: make a synthetic twin of the node's store, rebuild its report, list the
twins, and download one (L3, audited).

Twins live in ``NODE/synth/<twin id>/`` unless ``--out`` says otherwise. Making a twin (and
rebuilding a report) reads the secondary views inside the node: ``make_synthetic`` (node
analysts and administrators). Downloading is a data action at L3: ``download_synthetic``,
decided by the matrix (an accredited researcher needs an active research project naming them),
and every download is in the audit chain.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from joinedup.cli.gate import authorise
from joinedup.cli.options import AsActorOpt, JsonOpt, NodeArg
from joinedup.cli.progress import progress_bar
from joinedup.config import NodeSettings, load_node
from joinedup.errors import ConfigError, UsageError
from joinedup.govern import LOCAL_OPERATOR_ID, Action, ResourceKind
from joinedup.model import DataLevel, Purpose
from joinedup.synth import (
    TWIN_FILE,
    TwinSettings,
    make_synthetic_twin,
    read_provenance,
    rebuild_report,
)

app = typer.Typer(
    help="The synthetic twin of the node's linked store (lock 1) and its quality report.",
    no_args_is_help=True,
)
console = Console()
STORE_FILE = "store.duckdb"
TWINS_DIR = "synth"
TWIN_FILES = ("twin.duckdb", "report.json", "report.html", "figures")


def _twins_root(settings: NodeSettings) -> Path:
    return settings.root / TWINS_DIR


def _twin_dir(settings: NodeSettings, twin_id: str) -> Path:
    if not twin_id or "/" in twin_id or twin_id.startswith("."):
        raise UsageError(f"not a twin id: {twin_id!r} (see `joinedup synth list NODE`)")
    folder = _twins_root(settings) / twin_id
    if not (folder / TWIN_FILE).is_file():
        raise ConfigError(f"no twin {twin_id} on this node (see `joinedup synth list NODE`)")
    return folder


@app.command("make")
def make_command(
    node: NodeArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the twin and its report (default: NODE/synth/ID)."),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same store and seed give the same twin.")
    ] = 0,
    holdout: Annotated[
        float,
        typer.Option(
            "--holdout",
            min=0.05,
            max=0.5,
            help="Share of persons kept out of fitting, to measure privacy against.",
        ),
    ] = 0.2,
    min_leaf: Annotated[
        int,
        typer.Option(
            "--min-leaf", min=3, help="Fewest real rows in a tree leaf (larger: more private)."
        ),
    ] = 10,
    no_exact_copies: Annotated[
        bool,
        typer.Option(
            "--no-exact-copies",
            help="Draw again any twin person equal to any training person in every compared "
            "field, common ones included (by default only copies of unique persons are).",
        ),
    ] = False,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Synthesise a twin of the store's secondary views, with its quality report."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.MAKE_SYNTHETIC, kind=ResourceKind.SYNTHETIC, name="make")
    twin_id = "T" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"-s{seed}"
    folder = out if out is not None else _twins_root(settings) / twin_id
    twin_settings = TwinSettings(
        seed=seed, holdout=holdout, min_leaf=min_leaf, no_exact_copies=no_exact_copies
    )
    with progress_bar(not json_output) as report:
        result = make_synthetic_twin(settings.root / STORE_FILE, folder, twin_settings, report)
    if json_output:
        console.print_json(
            json.dumps(
                {
                    "twin": str(result.twin),
                    "report_html": str(result.report_html),
                    "persons": result.persons,
                    "rows": result.rows,
                    "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
                    "summary": result.summary,
                }
            )
        )
        return
    console.print(
        f"Twin of {result.persons:,} synthetic persons in [bold]{result.twin}[/] "
        f"({sum(result.seconds.values()):.1f} s); report: {result.report_html}"
    )
    _render_summary(result.summary)


def _render_summary(summary: dict[str, object]) -> None:
    table = Table(title="Quality summary")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(table)


@app.command("report")
def report_command(
    node: NodeArg,
    twin: Annotated[str, typer.Argument(help="The twin id (see: joinedup synth list NODE).")],
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Recompute a twin's quality report against the current store."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.MAKE_SYNTHETIC, kind=ResourceKind.SYNTHETIC, name=twin)
    folder = _twin_dir(settings, twin)
    json_path, html_path, summary = rebuild_report(settings.root / STORE_FILE, folder)
    if json_output:
        console.print_json(json.dumps({"report_json": str(json_path), "summary": summary}))
        return
    console.print(f"Report rebuilt: {html_path}")
    _render_summary(summary)


@app.command("list")
def list_command(
    node: NodeArg, json_output: JsonOpt = False, as_actor: AsActorOpt = LOCAL_OPERATOR_ID
) -> None:
    """List the node's synthetic twins with their provenance."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.MAKE_SYNTHETIC, kind=ResourceKind.SYNTHETIC, name="list")
    root = _twins_root(settings)
    rows = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if (folder / TWIN_FILE).is_file():
            p = read_provenance(folder / TWIN_FILE)
            rows.append(
                {"twin": folder.name, **{k: p.get(k) for k in ("created_at", "seed", "source_run")}}
            )
    if json_output:
        console.print_json(json.dumps(rows))
        return
    table = Table(title="Synthetic twins")
    for col in ("twin", "created_at", "seed", "source_run"):
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(row[c]) for c in ("twin", "created_at", "seed", "source_run")))
    console.print(table)


@app.command("download")
def download_command(
    node: NodeArg,
    twin: Annotated[str, typer.Argument(help="The twin id (see: joinedup synth list NODE).")],
    to: Annotated[Path, typer.Option("--to", help="Folder to copy the twin and its report into.")],
    project: Annotated[
        str | None,
        typer.Option("--project", help="The approved project the download is for."),
    ] = None,
    purpose: Annotated[
        Purpose, typer.Option("--purpose", help="Why the twin is taken.")
    ] = Purpose.RESEARCH,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Take a twin and its quality report (L3): decided, and recorded in the audit chain."""
    settings = load_node(node)
    authorise(
        settings,
        as_actor,
        Action.DOWNLOAD_SYNTHETIC,
        kind=ResourceKind.SYNTHETIC,
        name=twin,
        purpose=purpose,
        level=DataLevel.L3_SYNTHETIC,
        project_id=project,
    )
    folder = _twin_dir(settings, twin)
    dest = to / twin
    if dest.exists():
        raise UsageError(f"{dest} already exists: choose another --to")
    dest.mkdir(parents=True)
    for name in TWIN_FILES:
        source = folder / name
        if source.is_dir():
            shutil.copytree(source, dest / name)
        elif source.is_file():
            shutil.copy2(source, dest / name)
    console.print(f"Twin {twin} copied to {dest} (SYNTHETIC: no real child's record)")
