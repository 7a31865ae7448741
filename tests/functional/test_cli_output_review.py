"""``joinedup output review|approve|reject`` on a real node: only output checkers may vote (decided
and audited by govern), never on their own output, never twice; two approvals release the file
into the project's release folder with its ACRO-format record."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from joinedup.cli.main import main
from joinedup.config import NodeSettings
from joinedup.govern import Actor, Organisation, OrgKind, Role
from joinedup.govern.actors import add_actor
from joinedup.govern.database import open_govern
from joinedup.ingest import init_node
from joinedup.outputs.node import open_output_session, release_dir

NODE_ORG = Organisation(org_id="node", kind=OrgKind.NODE, name="the node")


def _actor(actor_id: str, role: Role) -> Actor:
    return Actor(
        actor_id=actor_id,
        display_name=actor_id,
        role=role,
        org=NODE_ORG,
        accredited_until=date(2030, 1, 1),
        ig_training_on=date(2026, 6, 1),
    )


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> NodeSettings:
    settings = init_node(Path(tmp_path_factory.mktemp("outputs")) / "node", name="outputs")
    with open_govern(settings) as con:
        add_actor(con, _actor("checker-a", Role.OUTPUT_CHECKER))
        add_actor(con, _actor("checker-b", Role.OUTPUT_CHECKER))
        add_actor(con, _actor("researcher-1", Role.RESEARCHER))
    return settings


def _queue_text(node: NodeSettings, name: str) -> str:
    con = duckdb.connect()
    try:
        session = open_output_session(node, con, project_id="PRJ-1", actor="researcher-1")
        out = session.text(name, "Attendance rose after the programme began.")
    finally:
        con.close()
    assert out.status == "pending_review"
    return out.release_id


def test_two_independent_checkers_release_free_text(
    node: NodeSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    rid = _queue_text(node, "finding.md")
    root = str(node.root)
    assert main(["output", "review", root, "--json", "--as", "checker-a"], {}) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["release_id"] for r in listed] == [rid]
    assert main(["output", "approve", root, rid, "--as", "researcher-1"], {}) == 3  # role
    assert main(["output", "approve", root, rid, "--as", "checker-a"], {}) == 0
    assert not (release_dir(node, "PRJ-1") / "finding.md").exists()
    assert main(["output", "approve", root, rid, "--as", "checker-a"], {}) == 3  # twice
    assert main(["output", "approve", root, rid, "--as", "checker-b"], {}) == 0
    released = release_dir(node, "PRJ-1")
    assert (released / "finding.md").exists()
    assert rid in json.loads((released / "results.json").read_text())["results"]


def test_a_rejection_keeps_the_output_inside(node: NodeSettings) -> None:
    rid = _queue_text(node, "draft.md")
    assert (
        main(
            ["output", "reject", str(node.root), rid, "--as", "checker-b", "--comment", "vague"], {}
        )
        == 0
    )
    assert main(["output", "approve", str(node.root), rid, "--as", "checker-a"], {}) == 2
    assert not (release_dir(node, "PRJ-1") / "draft.md").exists()
