"""Entry point. ``main(args, environ)`` is the only place that reads the process environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

import typer
from rich.console import Console
from typer._click.exceptions import ClickException  # typer vendors its own click

from joinedup.errors import JoinedupError, UserError, exit_code_for

app = typer.Typer(
    name="joinedup",
    help="Connect the data of the public services around a child: safely, lawfully, usefully.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

err_console = Console(stderr=True)


def register_commands() -> None:
    """Attach every command group (imported late so that importing this module stays cheap)."""
    from joinedup.cli import commands

    commands.register(app)


def main(args: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run the CLI with explicit arguments and environment; returns the exit code."""
    register_commands()
    command = typer.main.get_command(app)
    try:
        # Not standalone: click returns a command's exit code (typer.Exit(code)) instead of
        # calling sys.exit, so the code is returned here.
        returned = command.main(
            args=list(args), prog_name="joinedup", standalone_mode=False, obj=environ
        )
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return exit_code_for(exc)
    except JoinedupError as exc:
        err_console.print_exception()
        return exit_code_for(exc)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except ClickException as exc:
        exc.show()
        return 2
    return returned if isinstance(returned, int) else 0


def run() -> None:
    """Console-script entry."""
    sys.exit(main(sys.argv[1:], dict(os.environ)))
