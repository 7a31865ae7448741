"""Arguments and options that several commands share, spelt and explained once."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from joinedup.errors import UsageError

NodeArg = Annotated[Path, typer.Argument(help="The node folder (made by: joinedup node init).")]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]

AsActorOpt = Annotated[
    str,
    typer.Option(
        "--as",
        help="Act as this registered actor (default: local-operator, the node administrator "
        "at the node's console). Every command is decided and audited as this actor.",
    ),
]


def parse_date_option(value: str, option: str) -> date:
    """A YYYY-MM-DD option value as a date, or a UsageError naming the option."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} must be a date written YYYY-MM-DD, e.g. 2026-08-31") from None
