"""Shared simulated districts for the simulator tests (each simulated once per session)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from joinedup.simulate import NoiseKnobs, SimulationResult, SimulationSpec, simulate_district

SMALL = 4_000
LARGE = 20_000


@pytest.fixture(scope="session")
def noisy_district(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("noisy")
    return simulate_district(SimulationSpec(people=SMALL, seed=11), out)


@pytest.fixture(scope="session")
def clean_district(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("clean")
    return simulate_district(SimulationSpec(people=SMALL, seed=11, noise=NoiseKnobs.clean()), out)


@pytest.fixture(scope="session")
def large_district(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("large")
    return simulate_district(SimulationSpec(people=LARGE, seed=7), out)


@pytest.fixture(scope="session")
def large_truth(large_district: SimulationResult) -> pd.DataFrame:
    return read_truth_people(large_district.out)


def read_truth_people(out: Path) -> pd.DataFrame:
    people = pd.read_csv(out / "truth" / "people.csv", dtype={"school_urn": "Int64"})
    return people
