"""Fixtures for the job tests (defined in job_fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest
from job_fixtures import JobNode, job_node

from joinedup.jobs import isolation_problem


@pytest.fixture(scope="module")
def jnode(tmp_path_factory: pytest.TempPathFactory) -> JobNode:
    return job_node(Path(tmp_path_factory.mktemp("jobs")))


@pytest.fixture(scope="session")
def isolated() -> None:
    problem = isolation_problem()
    if problem is not None:
        pytest.skip(f"the job sandbox cannot be made here: {problem}")
