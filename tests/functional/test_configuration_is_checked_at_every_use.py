"""A node's configuration is verified every time it is used, not once at set-up: a command run
after its settings were broken stops with a configuration error (exit 5) and writes nothing, and
so does any command that reads the key after the key was opened to others."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.cli.main import main
from joinedup.ingest import init_node

COMMANDS = (
    ["node", "status"],
    ["audit", "verify"],
    ["optout", "list"],
    ["audit", "report"],
    ["project", "register"],
)
OPT_OUT = ["--nhs-number", "9434765919", "--dob", "2020-01-01", "--requested-by", "parent"]
KEY_COMMANDS = (["node", "status"], ["optout", "add", *OPT_OUT])


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_broken_settings_stop_the_next_command(tmp_path: Path, command: list[str]) -> None:
    node = init_node(tmp_path / "node", name="checked")
    args = [*command[:2], str(node.root), *command[2:]]
    assert main(args, {}) == 0
    settings_file = node.root / "node.toml"
    settings_file.write_text(settings_file.read_text() + "\nnot toml at all [[[\n")
    before = {p.name: p.stat().st_mtime_ns for p in node.root.iterdir()}
    assert main(args, {}) == 5
    assert {p.name: p.stat().st_mtime_ns for p in node.root.iterdir()} == before


@pytest.mark.parametrize("command", KEY_COMMANDS, ids=[" ".join(c[:2]) for c in KEY_COMMANDS])
def test_a_key_opened_to_others_stops_the_next_use(tmp_path: Path, command: list[str]) -> None:
    node = init_node(tmp_path / "node", name="checked")
    args = [*command[:2], str(node.root), *command[2:]]
    node.key_path.chmod(0o644)  # readable by others
    assert main(args, {}) == 5
    node.key_path.chmod(0o600)
    assert main(args, {}) == 0
