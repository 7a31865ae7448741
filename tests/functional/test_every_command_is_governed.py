"""Every command that touches a node asks ``govern.decide`` first: run as an unregistered actor
(``--as nobody``) it exits 3 (AccessDenied) and leaves exactly one new "deny" audit event.

The commands are enumerated from the CLI tree itself, so a command added without the gate makes
this test fail. The few commands that never act on an existing node are listed in ``UNGOVERNED``
with the reason; that list is checked against the tree too (no stale entries).
"""

from __future__ import annotations

import threading
from enum import Enum
from pathlib import Path

import duckdb
import pytest
import typer
import typer._click as click  # typer vendors its own click
from typer.core import TyperGroup, TyperOption

from joinedup.cli.main import app, main, register_commands
from joinedup.cli.reference_doc import walk_commands
from joinedup.config import NodeSettings, load_node
from joinedup.govern.database import open_govern
from joinedup.ingest import init_node

UNGOVERNED: dict[str, str] = {
    "simulate": "invents a district's extracts in a folder; no node is read or written",
    "source list": "lists the source contracts shipped with joinedup; no node is involved",
    "link files": "links plain CSV/Parquet files outside any node; no node is involved",
    "job run": "runs a job on the researcher's own machine against a synthetic twin file; no "
    "node is involved (the twin's download from the node was decided and audited)",
    "demo": "creates its own new node, whose every step is decided as local-operator",
    "node init": "creates a new node, before any actor exists; its creation is decided and "
    "audited as local-operator (checked below)",
}

# Values for required arguments and options that are not the node, by parameter name.
VALUES: dict[str, str] = {
    "dob": "2015-01-01",
    "expires_on": "2027-01-01",
    "dataset": "view__secondary__person",
    "variable": "view__secondary__person.sex",
    "source": "attendance",
    "reviewer": "a reviewer",
}
RUN_SECONDS = 120  # a command that does not return in this time was not stopped at the gate


def _commands() -> dict[str, click.Command]:
    register_commands()
    root = typer.main.get_command(app)
    return {
        " ".join(path): command
        for path, command in walk_commands(root, [])
        if path and not isinstance(command, TyperGroup)
    }


COMMANDS = _commands()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> NodeSettings:
    settings = init_node(tmp_path_factory.mktemp("governed") / "node", name="governed")
    with open_govern(settings):
        pass  # the governance database and its (empty) audit chain
    return settings


def _events(node: NodeSettings) -> list[tuple[str, str, str]]:
    con = duckdb.connect(str(node.root / "govern.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT actor_id, outcome, rule FROM audit__events ORDER BY seq")
        return [(str(a), str(b), str(c)) for a, b, c in rows.fetchall()]
    finally:
        con.close()


def _value(param: click.Parameter, node: NodeSettings, scratch: Path) -> str:
    name = param.name or ""
    if name == "node":
        return str(node.root)
    descriptor = param.type_descriptor  # type: ignore[attr-defined]
    kind, info = descriptor.annotation, descriptor.parameter_info
    if isinstance(kind, type) and issubclass(kind, Enum):
        return str(next(iter(kind)).value)
    if kind is Path:
        target = scratch / name
        if getattr(info, "exists", False):
            if getattr(info, "dir_okay", True) and not getattr(info, "file_okay", True):
                target.mkdir(exist_ok=True)
            else:
                target.write_text("a\n")
        return str(target)
    if kind is int:
        return "1"
    if kind is float:
        return "0.5"
    return VALUES.get(name, "x")


def _args(path: str, command: click.Command, node: NodeSettings, scratch: Path) -> list[str]:
    args = path.split()
    for param in command.params:
        if not param.required:
            continue
        value = _value(param, node, scratch)
        if isinstance(param, TyperOption):
            args += [param.opts[0], value]
        else:
            args.append(value)
    return [*args, "--as", "nobody"]


def _run(args: list[str]) -> int | None:
    """Run in-process; None if the command is still running after ``RUN_SECONDS``."""
    code: list[int] = []
    worker = threading.Thread(target=lambda: code.append(main(args, {})), daemon=True)
    worker.start()
    worker.join(RUN_SECONDS)
    return code[0] if code else None


def test_the_ungoverned_list_names_real_commands_only() -> None:
    assert set(UNGOVERNED) <= set(COMMANDS), set(UNGOVERNED) - set(COMMANDS)


@pytest.mark.parametrize("path", sorted(set(COMMANDS) - set(UNGOVERNED)))
def test_command_is_decided_and_audited(path: str, node: NodeSettings, tmp_path: Path) -> None:
    command = COMMANDS[path]
    names = {opt for p in command.params if isinstance(p, TyperOption) for opt in p.opts}
    assert "--as" in names, f"joinedup {path} has no --as option: it does not ask govern.decide"
    before = _events(node)
    code = _run(_args(path, command, node, tmp_path))
    assert code is not None, f"joinedup {path} ran past the gate as an unregistered actor"
    after = _events(node)
    assert code == 3, f"joinedup {path} exited {code}, not 3 (AccessDenied)"
    assert after[: len(before)] == before
    assert after[len(before) :] == [("nobody", "deny", "actor:unregistered")], path


def test_node_init_is_audited_as_the_local_operator(tmp_path: Path) -> None:
    assert main(["node", "init", str(tmp_path / "new")], {}) == 0
    events = _events(load_node(tmp_path / "new"))
    assert events == [("local-operator", "allow", "admin:administer_node")]
