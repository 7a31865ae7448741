"""Renders every command's ``--help`` as ``docs/reference/cli.md``.

Generated, never hand-edited: a docs test fails when the page differs from the commands, so no
command or option goes undocumented. Regenerate with
``python -m joinedup.cli.reference_doc > docs/reference/cli.md``.
"""

from __future__ import annotations

import typer
import typer._click as click  # typer vendors its own click
from typer.core import TyperGroup

from joinedup.cli.main import app, register_commands


def walk_commands(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, TyperGroup):
        for name in sorted(command.list_commands(click.Context(command))):
            sub = command.get_command(click.Context(command), name)
            if sub is not None and not sub.hidden:
                found += walk_commands(sub, [*path, name])
    return found


def render_cli_markdown() -> str:
    register_commands()
    root = typer.main.get_command(app)
    lines = [
        "# Command-line reference",
        "",
        "Generated from the commands' own help by `python -m joinedup.cli.reference_doc`;"
        " do not edit by hand.",
        "",
    ]
    for path, command in walk_commands(root, ["joinedup"]):
        ctx = click.Context(command, info_name=" ".join(path), terminal_width=100)
        text = command.get_help(ctx)
        lines += [f"## `{' '.join(path)}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_cli_markdown(), end="")
