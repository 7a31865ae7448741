"""The docs say what the code does: generated pages are current, README commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from joinedup.sources.reference_doc import render_sources_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_sources_reference_is_generated_from_the_contracts() -> None:
    page = (ROOT / "docs" / "reference" / "sources.md").read_text()
    assert page == render_sources_markdown(), (
        "docs/reference/sources.md is stale: run"
        " `python -m joinedup.sources.reference_doc > docs/reference/sources.md`"
    )


def test_readme_leads_with_the_two_commands_and_they_are_make_targets() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block
    makefile = (ROOT / "Makefile").read_text()
    for target in ("install", "demo", "test", "lint", "bench"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_links_in_readme_and_docs_resolve() -> None:
    pages = [ROOT / "README.md", ROOT / "GLOSSARY.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_cli_reference_is_generated_from_the_commands() -> None:
    from joinedup.cli.reference_doc import render_cli_markdown

    page = (ROOT / "docs" / "reference" / "cli.md").read_text()
    assert page == render_cli_markdown(), (
        "docs/reference/cli.md is stale: run"
        " `python -m joinedup.cli.reference_doc > docs/reference/cli.md`"
    )


def test_every_command_and_option_has_help_text() -> None:
    import typer

    from joinedup.cli.main import app, register_commands
    from joinedup.cli.reference_doc import walk_commands

    register_commands()
    missing: list[str] = []
    for path, command in walk_commands(typer.main.get_command(app), ["joinedup"]):
        if not (command.help or "").strip():
            missing.append(" ".join(path))
        for param in command.params:
            if param.name == "help":
                continue
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{' '.join(path)} {param.name}")
    assert not missing, f"undocumented commands or options: {missing}"


def test_outputs_reference_shows_the_profiles_as_coded() -> None:
    from joinedup.outputs.profiles import render_profiles_markdown

    page = (ROOT / "docs" / "reference" / "outputs.md").read_text()
    assert render_profiles_markdown() in page, (
        "docs/reference/outputs.md's profile table is stale: paste render_profiles_markdown()"
    )
