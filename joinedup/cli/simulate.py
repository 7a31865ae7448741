"""``joinedup simulate``: invent a district and write its agency extracts and ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from joinedup.cli.options import parse_date_option
from joinedup.errors import UsageError
from joinedup.simulate import (
    DEFAULT_AS_OF,
    STAGES,
    SimulationResult,
    SimulationSpec,
    simulate_district,
)
from joinedup.simulate.district import MAX_PEOPLE

console = Console()


def _summary_table(result: SimulationResult) -> Table:
    table = Table(title=f"Simulated district: {result.people:,} children and young people")
    table.add_column("source")
    table.add_column("table")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for e in result.extracts:
        table.add_row(e.source, e.table, e.path, f"{e.rows:,}")
    return table


def simulate_command(
    people: Annotated[
        int,
        typer.Option(
            "--people", help=f"Children and young people aged 0-19 to simulate (100-{MAX_PEOPLE})."
        ),
    ] = 20_000,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed and size give the same files.")
    ] = 7,
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write the extracts and truth/ into.")
    ] = Path("district"),
    as_of: Annotated[
        str,
        typer.Option("--as-of", help="The district's reference date, YYYY-MM-DD."),
    ] = DEFAULT_AS_OF.isoformat(),
    json_output: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")
    ] = False,
) -> None:
    """Simulate a seeded, invented, Bradford-like district: every agency extract plus truth."""
    if not 100 <= people <= MAX_PEOPLE:
        raise UsageError(f"--people must be between 100 and {MAX_PEOPLE}")
    spec = SimulationSpec(people=people, seed=seed, as_of=parse_date_option(as_of, "--as-of"))
    if json_output:
        result = simulate_district(spec, out)
        console.print_json(json.dumps(result.as_json()))
        return
    with Progress(
        TextColumn("{task.description:<20}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {
            name: bar.add_task(name, total=1.0, start=False) for name in STAGES
        }

        def report(stage: str, fraction: float) -> None:
            task = tasks[stage]
            if fraction <= 0.0:
                bar.start_task(task)
            bar.update(task, completed=fraction)

        result = simulate_district(spec, out, progress=report)
    console.print(_summary_table(result))
    console.print(
        f"Wrote {len(result.extracts)} tables to {result.out} in {result.seconds:.1f} s; "
        f"ground truth in {result.out / 'truth'}"
    )
