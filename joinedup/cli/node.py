"""``joinedup node``: create a node and report what it holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from joinedup.cli.gate import authorise
from joinedup.cli.options import AsActorOpt, JsonOpt, NodeArg
from joinedup.config import load_node
from joinedup.govern import LOCAL_OPERATOR_ID, Action, ResourceKind
from joinedup.ingest import init_node, node_status

app = typer.Typer(help="Create a node and see what it holds.", no_args_is_help=True)
console = Console()


def _print_json(data: object) -> None:
    # plain print: rich would wrap long lines and break the JSON
    typer.echo(json.dumps(data, indent=2))


@app.command("init")
def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder for the new node (created if absent; must not hold one).")
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="The node's name (default: the folder's name).")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Create a node: node.toml, a secret key (mode 0600), the vault and the store."""
    settings = init_node(directory, name=name)
    # a new node has no actors yet: its creation is decided and audited as local-operator
    authorise(
        settings, LOCAL_OPERATOR_ID, Action.ADMINISTER_NODE, kind=ResourceKind.NODE, name="init"
    )
    if json_output:
        _print_json(
            {
                "root": str(settings.root),
                "name": settings.name,
                "created": settings.created.isoformat(),
                "format_version": settings.format_version,
                "vault": str(settings.vault_path),
                "store": str(settings.store_path),
                "secret_key": str(settings.key_path),
            }
        )
        return
    console.print(f"Created node [bold]{settings.name}[/] in {settings.root}")
    console.print(f"  secret key {settings.key_path} (mode 0600: back it up, never share it)")
    console.print(f"  vault      {settings.vault_path}")
    console.print(f"  store      {settings.store_path}")


@app.command("status")
def status(
    node: NodeArg,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Show the batches loaded into a node, with their counts, and what the vault holds."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.ADMINISTER_NODE, kind=ResourceKind.NODE, name="status")
    report = node_status(settings)
    if json_output:
        _print_json(
            {
                "name": report.settings.name,
                "root": str(report.settings.root),
                "identity_records": report.identity_records,
                "keys": report.keys,
                "postcodes": report.postcodes,
                "batches": [
                    {
                        "batch_id": b.batch_id,
                        "source": b.source,
                        "file_name": b.file_name,
                        "status": b.status,
                        "started_at": b.started_at.isoformat(),
                        "finished_at": b.finished_at.isoformat() if b.finished_at else None,
                        "read": b.read,
                        "accepted": b.accepted,
                        "quarantined": b.quarantined,
                        "flagged": b.flagged,
                    }
                    for b in report.batches
                ],
            }
        )
        return
    console.print(
        f"Node [bold]{report.settings.name}[/] ({report.settings.root}): "
        f"{report.identity_records} identity records, {report.keys} keys, "
        f"{report.postcodes} postcodes in the vault"
    )
    table = Table(title="Batches (newest first)")
    table.add_column("source")
    table.add_column("status", min_width=11, no_wrap=True)
    for heading in ("read", "accepted", "quarantined", "flagged"):
        table.add_column(heading, justify="right")
    table.add_column("batch", overflow="fold")
    for b in report.batches:
        table.add_row(
            b.source,
            b.status,
            str(b.read),
            str(b.accepted),
            str(b.quarantined),
            str(b.flagged),
            b.batch_id,
        )
    console.print(table)
