"""Fixtures for ingest tests: a fresh node per test, and a node that already has reference data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ingest_extracts import TODAY, write_extract

from joinedup.config import NodeSettings, load_node
from joinedup.ingest import ingest_file, init_node
from joinedup.sources import get_contract


@pytest.fixture(scope="session")
def _reference_node_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("template")
    node = init_node(base / "node", name="test district")
    ref = write_extract(get_contract("reference"), base / "extracts", rows=3)
    ingest_file(node, "reference", ref, today=TODAY)
    return base / "node"


@pytest.fixture
def node(_reference_node_template: Path, tmp_path: Path) -> NodeSettings:
    """A node with the reference extract loaded (copied from a session template: fast)."""
    target = tmp_path / "node"
    shutil.copytree(_reference_node_template, target)
    return load_node(target)


@pytest.fixture
def empty_node(tmp_path: Path) -> NodeSettings:
    return init_node(tmp_path / "empty-node")
