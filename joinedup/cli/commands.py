"""Registers every command group on the app. Each group lives in its own module."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    if getattr(app, "_joinedup_registered", False):
        return
    app._joinedup_registered = True  # type: ignore[attr-defined]
    from joinedup.cli import link, node, refresh, source
    from joinedup.cli.demo import demo_command
    from joinedup.cli.simulate import simulate_command

    del refresh  # importing it adds `node refresh` to the node group

    app.command("demo")(demo_command)
    app.command("simulate")(simulate_command)
    app.add_typer(node.app, name="node")
    app.add_typer(source.app, name="source")
    app.add_typer(link.app, name="link")
