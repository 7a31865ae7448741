"""``joinedup link review``: a refused name link goes to the queue, a reviewer decides, the next
refresh applies it (forced edge, then forced split); every view and decision is logged in the
vault and the store holds no value."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from joinedup.cli.main import main
from joinedup.config import load_node
from joinedup.link import DeterministicStage, refresh_node
from joinedup.link.deterministic import COMMON_NAME_BIRTHDAYS, RULES_BEFORE_SPLINK
from joinedup.link.review import ReviewDecisionsStage
from joinedup.link.stages import PersonIndexRule
from joinedup.simulate.identifiers import make_nhs_numbers

HEADER = (
    "nhs_number,surname,forename,dob,sex,postcode,review_date,age_months,asq_communication,"
    "zone_communication,asq_gross_motor,zone_gross_motor,asq_fine_motor,zone_fine_motor,"
    "asq_problem_solving,zone_problem_solving,asq_personal_social,zone_personal_social"
)
TAIL = "2019-04-10,26,30,monitoring,55,above,50,above,30,monitoring,60,above"
PLANTED = "Quillfeather"
# two children with one name and birthday but different (valid) NHS numbers, and one other
ROWS = (
    f"9994253859,{PLANTED},Jacob,2017-01-30,1,BD1 8QD,{TAIL}",
    f"9993533815,{PLANTED},Jacob,2017-01-30,1,BD2 7JF,{TAIL}",
    f"9994968629,Hall,Noah,2017-03-02,1,BD2 7JF,{TAIL}",
)
STAGES = (DeterministicStage(), ReviewDecisionsStage())


def _persons(node: Path) -> int:
    con = duckdb.connect(str(node / "store.duckdb"), read_only=True)
    try:
        row = con.execute("SELECT count(DISTINCT person_id) FROM link__record_person").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def _review(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["link", "review", *args, "--json"], {}) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture()
def node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "node"
    assert main(["node", "init", str(root)], {}) == 0
    extract = tmp_path / "hcp_review.csv"
    extract.write_text("\n".join([HEADER, *ROWS]) + "\n")
    assert main(["source", "ingest", str(root), "hcp_review", str(extract), "--json"], {}) == 0
    refresh_node(load_node(root), stages=STAGES)
    capsys.readouterr()
    return root


def test_decisions_apply_on_refresh_and_are_logged(
    node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _persons(node) == 3  # the guard refused the name link between two NHS numbers
    listed = _review([str(node), "--reviewer", "Ann Reviewer", "--list"], capsys)
    open_items = listed["open"]
    assert isinstance(open_items, list) and len(open_items) == 1
    item = open_items[0]["item_id"]
    assert open_items[0]["kind"] == "refused_guarded_key"

    # side by side: the terminal shows the values (L0) ...
    capsys.readouterr()
    assert (
        main(["link", "review", str(node), "--reviewer", "Ann Reviewer", "--show", item], {}) == 0
    )
    assert PLANTED in capsys.readouterr().out

    decided = _review(
        [str(node), "--reviewer", "Ann Reviewer", "--decide", f"{item}=match"], capsys
    )
    assert decided["decided"] == [{"item_id": item, "decision": "match"}]
    assert decided["open"] == []
    refresh_node(load_node(node), stages=STAGES)
    assert _persons(node) == 2  # forced edge: one child now, flagged as holding two NHS numbers

    _review([str(node), "--reviewer", "Ann Reviewer", "--decide", f"{item}=non-match"], capsys)
    refresh_node(load_node(node), stages=STAGES)
    assert _persons(node) == 3  # forced split

    _review([str(node), "--reviewer", "Ann Reviewer", "--decide", f"{item}=unsure"], capsys)
    assert [
        i["item_id"] for i in _review([str(node), "--reviewer", "B", "--list"], capsys)["open"]
    ] == [item]

    vault = duckdb.connect(str(node / "vault.duckdb"), read_only=True)
    try:
        log = vault.execute(
            "SELECT reviewer, action, decision FROM vault__review_log ORDER BY logged_at"
        ).fetchall()
    finally:
        vault.close()
    assert ("Ann Reviewer", "view", None) in log
    assert [d for _, a, d in log if a == "decide"] == ["match", "non-match", "unsure"]

    store = duckdb.connect(str(node / "store.duckdb"), read_only=True)
    try:
        for table in ("link__review_queue", "link__review_decisions"):
            cells = {
                str(v) for row in store.execute(f"SELECT * FROM {table}").fetchall() for v in row
            }
            assert not any(PLANTED.upper() in c.upper() or "Ann" in c for c in cells)
            assert not any(c.startswith("999") for c in cells)
    finally:
        store.close()


def test_review_needs_a_reviewer_and_a_known_item(
    node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["link", "review", str(node), "--list"], {}) == 2
    code = main(["link", "review", str(node), "--reviewer", "A", "--decide", "nope=match"], {})
    assert code == 2
    code = main(["link", "review", str(node), "--reviewer", "A", "--decide", "x=perhaps"], {})
    assert code == 2


def test_interactive_review_reads_decisions_from_stdin(
    node: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO("m\n"))
    assert main(["link", "review", str(node), "--reviewer", "Cy"], {}) == 0
    assert "recorded: match" in capsys.readouterr().out
    assert _review([str(node), "--reviewer", "Cy", "--list"], capsys)["open"] == []


class _SplinkDecidedApart:
    """Stands in for the Splink stage when it links nothing: the run's method names Splink."""

    name = "splink-v1"
    rules: tuple[PersonIndexRule, ...] = ()

    def write_edges(self, context: object) -> None:
        del context


def _common_name_node(tmp_path: Path, postcode: str) -> Path:
    # COMMON_NAME_BIRTHDAYS + 1 children named Jacob Quillfeather born in 2017 in BD1 (a common
    # name in this node), and one more born on the first one's birthday with another NHS number
    numbers = make_nhs_numbers(COMMON_NAME_BIRTHDAYS + 2, np.random.default_rng(5))
    rows = [
        f"{numbers[i]},{PLANTED},Jacob,2017-01-{i + 1:02d},1,BD1 8QD,{TAIL}"
        for i in range(COMMON_NAME_BIRTHDAYS + 1)
    ]
    rows.append(f"{numbers[-1]},{PLANTED},Jacob,2017-01-01,1,{postcode},{TAIL}")
    root = tmp_path / "node"
    assert main(["node", "init", str(root)], {}) == 0
    extract = tmp_path / "hcp_review.csv"
    extract.write_text("\n".join([HEADER, *rows]) + "\n")
    assert main(["source", "ingest", str(root), "hcp_review", str(extract), "--json"], {}) == 0
    return root


@pytest.mark.parametrize(
    ("before_splink", "postcode", "queued"),
    [
        (False, "BD2 7JF", ["refused_guarded_key"]),
        (True, "BD2 7JF", []),
        (True, "BD1 4XY", ["refused_guarded_key"]),
    ],
)
def test_common_names_split_by_splink_are_not_queued_as_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    before_splink: bool,
    postcode: str,
    queued: list[str],
) -> None:
    root = _common_name_node(tmp_path, postcode)
    stages = (
        (DeterministicStage(rules=RULES_BEFORE_SPLINK), _SplinkDecidedApart())
        if before_splink
        else STAGES
    )
    refresh_node(load_node(root), stages=stages)
    capsys.readouterr()
    listed = _review([str(root), "--reviewer", "Ann Reviewer", "--list"], capsys)
    open_items = listed["open"]
    assert isinstance(open_items, list)
    # exact rules alone: the guard refused the name link between two NHS numbers, and a person
    # must decide. Before Splink a common name is a key only within one postcode district:
    # in another district Splink decided (its grey zone is its own queue); in the same one the
    # guard refused the key, as ever
    assert [i["kind"] for i in open_items] == queued
