"""``joinedup project apply --cohort-spec FILE``: the cohort is checked (the error names the
field), pinned with its hash, shown to the DAC at review, and published in plain words."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from joinedup.cli.main import main
from joinedup.config import NodeSettings
from joinedup.govern import LOCAL_OPERATOR_ID, Actor, Organisation, OrgKind, Role
from joinedup.govern.actors import add_actor
from joinedup.govern.cohort import load_cohort_file
from joinedup.govern.database import open_govern
from joinedup.govern.projects import get_project
from joinedup.ingest import init_node

TODAY = datetime.now(UTC).date()
ORG = Organisation(org_id="uni", kind=OrgKind.VCSE, name="a university")
# the how-to's example, in YAML
COHORT_YAML = """\
all:
  - age: {at: 2025-08-31, min: 4, max: 11}
  - any:
      - has_event: {table: admission, from: 2020-01-01}
      - has_event: {table: social_care_episode, from: 2020-01-01}
"""


def _actor(actor_id: str, role: Role, *, lay: bool = False) -> Actor:
    return Actor(
        actor_id=actor_id,
        display_name=actor_id,
        role=role,
        org=ORG,
        accredited_until=TODAY + timedelta(days=400) if role is Role.RESEARCHER else None,
        ig_training_on=TODAY - timedelta(days=5),
        is_lay=lay,
    )


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> NodeSettings:
    settings = init_node(tmp_path_factory.mktemp("cohort") / "node", name="cohort node")
    with open_govern(settings) as con:
        add_actor(con, _actor("res-1", Role.RESEARCHER))
        add_actor(con, _actor("dac-lay", Role.DAC_MEMBER, lay=True))
        add_actor(con, _actor("dac-1", Role.DAC_MEMBER))
    return settings


def _apply(node: NodeSettings, spec_file: Path) -> list[str]:
    return [
        "project",
        "apply",
        str(node.root),
        "--title",
        "Admissions and early help",
        "--purpose",
        "research",
        "--lay-summary",
        "Which children admitted to hospital were known to early help?",
        "--public-benefit",
        "Earlier support for families.",
        "--legal-basis",
        "6(1)(e)+9(2)(j)+s251",
        "--dataset",
        "view__secondary__person",
        "--variable",
        "view__secondary__person.sex",
        "--cohort",
        "school-age children with an admission or social care since 2020",
        "--cohort-spec",
        str(spec_file),
        "--setting",
        "jobs",
        "--outputs",
        "rates by age band",
        "--expires-on",
        (TODAY + timedelta(days=300)).isoformat(),
        "--as",
        "res-1",
    ]


def test_a_cohort_is_pinned_reviewed_and_published(
    node: NodeSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_file = tmp_path / "cohort.yaml"
    spec_file.write_text(COHORT_YAML)
    cohort = load_cohort_file(spec_file)
    assert main(_apply(node, spec_file), {"COLUMNS": "300"}) == 0
    out = capsys.readouterr().out
    project_id = out.split("project ", 1)[1].split(" ", 1)[0]
    assert "aged 4 to 11 on 31 August 2025" in out
    assert f"Cohort sha256: {cohort.sha256}" in out
    with open_govern(node) as con:
        project = get_project(con, project_id)
    assert project is not None and project.spec.cohort_spec == cohort
    # the DAC reads the application in full before deciding
    assert main(["project", "show", str(node.root), project_id, "--as", "dac-1"], {}) == 0
    shown = capsys.readouterr().out
    assert "aged 4 to 11 on 31 August 2025" in shown and cohort.canonical_json() in shown
    args = ["project", "show", str(node.root), project_id, "--json", "--as", "dac-lay"]
    assert main(args, {}) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["cohort_spec"] == cohort.as_dict()
    assert facts["cohort_sha256"] == cohort.sha256
    assert facts["children_included"] == cohort.describe()
    for member in ("dac-lay", "dac-1"):
        args = ["project", "review", str(node.root), project_id, "--decision", "approve"]
        assert main([*args, "--as", member], {"COLUMNS": "300"}) == 0
        review = capsys.readouterr().out
        assert "aged 4 to 11 on 31 August 2025" in review and cohort.sha256 in review
    args = ["project", "countersign", str(node.root), project_id, "--as", LOCAL_OPERATOR_ID]
    assert main(args, {}) == 0
    capsys.readouterr()
    assert main(["project", "register", str(node.root)], {}) == 0
    register = json.loads(capsys.readouterr().out)
    (entry,) = [p for p in register["projects"] if p["project_id"] == project_id]
    assert entry["children_included"] == cohort.describe()
    assert "hospital admitted care episodes" in entry["children_included"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"all": [{"sex": ["F"]}, {"has_event": {"table": "nursery"}}]}', "cohort.all[1]"),
        ('{"born": {"from": "2015-9"}}', "cohort.born.from: must be a month written YYYY-MM"),
        ("{}", "is empty"),
    ],
)
def test_a_bad_cohort_spec_is_refused_naming_the_field(
    node: NodeSettings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    message: str,
) -> None:
    spec_file = tmp_path / "cohort.json"
    spec_file.write_text(text)
    with open_govern(node) as con:
        before = con.execute("SELECT count(*) FROM govern__projects").fetchone()
    assert main(_apply(node, spec_file), {"COLUMNS": "300"}) == 2
    captured = capsys.readouterr()
    assert message in captured.err + captured.out
    with open_govern(node) as con:
        after = con.execute("SELECT count(*) FROM govern__projects").fetchone()
    assert before == after  # nothing recorded
