"""The governance reference page is generated from the rules in ``joinedup/govern/``."""

from __future__ import annotations

from pathlib import Path

from joinedup.govern.policy import render_admin_markdown, render_matrix_markdown
from joinedup.govern.reference_doc import render_governance_markdown

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reference" / "governance.md"


def test_governance_reference_is_generated_from_the_rules() -> None:
    assert PAGE.read_text() == render_governance_markdown(), (
        "docs/reference/governance.md is stale: run"
        " `python -m joinedup.govern.reference_doc > docs/reference/governance.md`"
    )


def test_the_page_holds_the_whole_matrix_and_every_admin_rule() -> None:
    page = PAGE.read_text()
    assert render_matrix_markdown() in page
    assert render_admin_markdown() in page


def test_the_governance_docs_are_linked_from_the_docs_index() -> None:
    index = (ROOT / "docs" / "README.md").read_text()
    for page in (
        "reference/governance.md",
        "explanation/governance.md",
        "how-to/handle-an-opt-out.md",
    ):
        assert f"({page})" in index, page
