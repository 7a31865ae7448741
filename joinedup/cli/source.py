"""``joinedup source``: list the source contracts and load extracts into a node."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from joinedup.cli.gate import authorise
from joinedup.cli.options import AsActorOpt, JsonOpt, NodeArg, parse_date_option
from joinedup.cli.progress import progress_bar
from joinedup.config import load_node
from joinedup.errors import ContractError, UsageError
from joinedup.govern import LOCAL_OPERATOR_ID, ResourceKind
from joinedup.govern import Action as GovernAction
from joinedup.ingest import (
    IngestResult,
    QuarantineReport,
    export_reasons,
    ingest_dir,
    ingest_file,
    quarantine_report,
)
from joinedup.ingest.quarantine import Action
from joinedup.sources import CONTRACTS

app = typer.Typer(
    help="Source contracts, and loading agency extracts into a node.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)

AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="The date plausible-date checks run against, YYYY-MM-DD (default: today).",
    ),
]


def _parse_as_of(value: str | None) -> date | None:
    return None if value is None else parse_date_option(value, "--as-of")


def _render(results: Sequence[IngestResult], as_json: bool) -> None:
    if as_json:
        _print_json([r.to_dict() for r in results])
        return
    table = Table(title="Ingest", show_lines=False)
    for heading in ("source", "table", "status", "read", "accepted", "quarantined", "flagged"):
        justify = "right" if heading in ("read", "accepted", "quarantined", "flagged") else "left"
        table.add_column(heading, justify=justify)  # type: ignore[arg-type]
    for r in results:
        table.add_row(
            r.source,
            "(file)",
            r.status,
            str(r.read),
            str(r.accepted),
            str(r.quarantined),
            str(r.flagged),
            style="bold",
        )
        for t in r.tables:
            table.add_row(
                "", t.table, "", str(t.read), str(t.accepted), str(t.quarantined), str(t.flagged)
            )
    console.print(table)
    for r in results:
        if r.error:
            err_console.print(f"[red]{r.source}:[/] {r.error}", markup=True, highlight=False)


def _exit_for(results: Sequence[IngestResult]) -> None:
    """Exit 5 (invalid input) when an extract was rejected or had every row quarantined."""
    failed = [r for r in results if r.is_failure]
    if failed:
        raise ContractError(
            f"{len(failed)} extract(s) rejected or with every row quarantined: "
            + ", ".join(r.source for r in failed)
            + "; see the reasons in ingest__quarantine_reasons (joinedup node status NODE)"
        )


def _print_json(data: object) -> None:
    # plain print: rich would wrap long lines and break the JSON
    typer.echo(json.dumps(data, indent=2))


@app.command("list")
def list_sources(json_output: JsonOpt = False) -> None:
    """List the source contracts in ingest order, with the file each expects."""
    if json_output:
        _print_json(
            [
                {
                    "name": c.name,
                    "title": c.title,
                    "agency": c.agency.value,
                    "format": c.format.value,
                    "file": c.file_name,
                    "tables": [t.name for t in c.tables],
                }
                for c in CONTRACTS
            ]
        )
        return
    table = Table(title="Source contracts (in ingest order)")
    for heading in ("source", "title", "agency", "format", "file", "tables"):
        table.add_column(heading)
    for c in CONTRACTS:
        table.add_row(
            c.name,
            c.title,
            c.agency.value,
            c.format.value,
            c.file_name,
            ", ".join(t.name for t in c.tables),
        )
    console.print(table)


@app.command("ingest")
def ingest(
    node: NodeArg,
    source: Annotated[str, typer.Argument(help="The source name (see: joinedup source list).")],
    file: Annotated[
        Path, typer.Argument(help="The extract: its CSV file, its folder of CSVs, or the XML.")
    ],
    json_output: JsonOpt = False,
    as_of: AsOfOpt = None,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Check one extract against its contract and load it into the node."""
    settings = load_node(node)
    authorise(
        settings, as_actor, GovernAction.ADMINISTER_NODE, kind=ResourceKind.SOURCE, name=source
    )
    today = _parse_as_of(as_of)
    with progress_bar(not json_output) as report:
        result = ingest_file(settings, source, file, report, today=today)
    _render([result], json_output)
    _exit_for([result])


@app.command("ingest-dir")
def ingest_directory(
    node: NodeArg,
    directory: Annotated[
        Path,
        typer.Argument(
            help="A folder of extracts named as the contracts expect (reference first)."
        ),
    ],
    json_output: JsonOpt = False,
    as_of: AsOfOpt = None,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Load every extract found in a folder, in the contracts' order (reference data first)."""
    settings = load_node(node)
    authorise(settings, as_actor, GovernAction.ADMINISTER_NODE, kind=ResourceKind.SOURCE, name="*")
    today = _parse_as_of(as_of)
    with progress_bar(not json_output) as report:
        results = ingest_dir(settings, directory, report, today=today)
    _render(results, json_output)
    _exit_for(results)


def _render_quarantine(report: QuarantineReport) -> None:
    if report.total == 0:
        console.print("Nothing matches: no row was quarantined (or flagged) for this selection.")
        return
    counts = Table(title=f"Reasons ({report.total:,} in all)")
    for heading in ("source", "table", "column", "rule", "action", "rows", "first row"):
        counts.add_column(heading, justify="right" if heading in ("rows", "first row") else "left")
    for c in report.counts:
        counts.add_row(
            c.source, c.table, c.column or "(row)", c.rule, c.action, f"{c.rows:,}",
            str(c.first_row),
        )  # fmt: skip
    console.print(counts)
    rows = Table(title=f"First {len(report.reasons)} reasons, in file order")
    for heading in ("source", "table", "row", "column", "rule", "message"):
        rows.add_column(heading)
    for r in report.reasons:
        rows.add_row(r.source, r.table, str(r.row_number), r.column or "", r.rule, r.message)
    console.print(rows)


@app.command("quarantine")
def quarantine(
    node: NodeArg,
    source: Annotated[
        str | None, typer.Option("--source", help="Only this source (see: joinedup source list).")
    ] = None,
    batch: Annotated[
        str | None, typer.Option("--batch", help="Only this batch id (see: joinedup node status).")
    ] = None,
    action: Annotated[
        str,
        typer.Option(
            "--action",
            help="quarantine (rows held back), flag (values kept as missing) or all.",
        ),
    ] = "quarantine",
    limit: Annotated[
        int, typer.Option("--rows", min=0, help="How many individual reasons to list.")
    ] = 20,
    csv_out: Annotated[
        Path | None,
        typer.Option("--csv", help="Also write every matching reason to this CSV file."),
    ] = None,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Why rows were quarantined: counts by column and rule, then row-by-row reasons.

    Reasons name the row number, column and rule, never a value, so the report can be shared
    with the agency that sent the extract. The rows themselves stay in the vault.
    """
    settings = load_node(node)
    authorise(
        settings,
        as_actor,
        GovernAction.ADMINISTER_NODE,
        kind=ResourceKind.SOURCE,
        name=source or "*",
    )
    if action not in ("quarantine", "flag", "all"):
        raise UsageError("--action must be quarantine, flag or all")
    chosen: Action = (
        "quarantine" if action == "quarantine" else "flag" if action == "flag" else "all"
    )
    report = quarantine_report(settings, source=source, batch_id=batch, action=chosen, limit=limit)
    if csv_out is not None:
        written = export_reasons(settings, csv_out, source=source, batch_id=batch, action=chosen)
        err_console.print(f"wrote {written:,} reasons to {csv_out}")
    if json_output:
        typer.echo(json.dumps(report.as_dict()))
    else:
        _render_quarantine(report)
