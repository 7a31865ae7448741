"""The SATRE self-assessment page is generated from the checked-in mapping, names only real
statements, and cites only tests that exist."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

from joinedup.govern.satre import (
    SATRE_EVIDENCE,
    SatreStatement,
    Status,
    load_specification,
    render_satre_markdown,
)

ROOT = Path(__file__).resolve().parents[2]
SPEC = Path(__file__).resolve().parents[3] / "shared" / "satre" / "specification.yaml"
MET_CLAIMED = 40  # the honest count; change it only with the mapping


@pytest.fixture(scope="module")
def statements() -> tuple[SatreStatement, ...]:
    if not SPEC.is_file():
        pytest.fail(f"the SATRE specification is missing: expected it at {SPEC}")
    return load_specification(SPEC)


def test_satre_page_is_generated_from_the_mapping(
    statements: tuple[SatreStatement, ...],
) -> None:
    page = (ROOT / "docs" / "satre.md").read_text(encoding="utf-8")
    assert page == render_satre_markdown(statements), (
        "docs/satre.md is stale: run"
        " `python -m joinedup.govern.satre ../shared/satre/specification.yaml > docs/satre.md`"
    )


def test_the_specification_is_the_whole_one(statements: tuple[SatreStatement, ...]) -> None:
    assert len(statements) == 185
    assert len({s.reference for s in statements}) == 185


def test_every_claimed_statement_exists_once(statements: tuple[SatreStatement, ...]) -> None:
    known = {s.reference for s in statements}
    references = [e.reference for e in SATRE_EVIDENCE]
    assert [r for r in references if r not in known] == []
    assert len(references) == len(set(references)), "a statement is claimed twice"


@cache
def _test_functions(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )


def test_every_cited_test_exists() -> None:
    for evidence in SATRE_EVIDENCE:
        assert evidence.tests, f"{evidence.reference} cites no test"
        assert evidence.explanation.strip(), f"{evidence.reference} has no explanation"
        for node_id in evidence.tests:
            file_part, _, name = node_id.partition("::")
            name = name.split("[", 1)[0]
            path = ROOT / file_part
            assert file_part.startswith("tests/") and path.is_file(), (
                f"{evidence.reference}: {file_part} is not a test file"
            )
            assert name.startswith("test_") and name in _test_functions(path), (
                f"{evidence.reference}: {name} is not defined in {file_part}"
            )


def test_the_met_count_is_what_the_mapping_claims() -> None:
    met = sum(e.status is Status.MET for e in SATRE_EVIDENCE)
    assert met == MET_CLAIMED
