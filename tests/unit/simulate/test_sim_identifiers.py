"""Simulated identifiers agree with the vault's check-digit functions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from joinedup.identity import is_temporary_upn, is_valid_nhs_number, is_valid_upn, upn_check_letter
from joinedup.simulate import SimulationResult
from joinedup.simulate.identifiers import (
    break_nhs_numbers,
    break_upns,
    make_nhs_numbers,
    make_upns,
    upn_check_letters,
)


def test_nhs_numbers_are_valid_unique_and_in_the_test_range() -> None:
    numbers = make_nhs_numbers(20_000, np.random.default_rng(1))
    assert len(set(numbers)) == len(numbers)
    assert all(n.startswith("999") and is_valid_nhs_number(n) for n in numbers)
    broken = break_nhs_numbers(numbers[:500])
    assert not any(is_valid_nhs_number(n) for n in broken)
    assert all(b[:9] == n[:9] for b, n in zip(broken, numbers[:500], strict=True))


def test_upns_are_valid_and_unique() -> None:
    rng = np.random.default_rng(2)
    n = 5_000
    laestab = rng.choice([3802001, 3802002, 3804001], size=n).astype(np.int64)
    year = rng.choice([2015, 2020], size=n).astype(np.int64)
    temporary = rng.random(n) < 0.1
    upns = make_upns(laestab, year, temporary=temporary, rng=rng)
    assert len(set(upns)) == n
    assert all(is_valid_upn(u) for u in upns)
    assert all(u[1:8] in {"3802001", "3802002", "3804001"} for u in upns)
    assert [is_temporary_upn(u) for u in upns] == list(temporary)
    assert not any(is_valid_upn(u) for u in break_upns(upns[:300]))


def test_vectorised_check_letters_match_the_scalar_rule() -> None:
    rng = np.random.default_rng(3)
    bodies = np.array([f"{x:012d}" for x in rng.integers(0, 10**12, 300)])
    assert list(upn_check_letters(bodies)) == [upn_check_letter(b) for b in bodies]


def test_people_identifiers(large_truth: pd.DataFrame) -> None:
    nhs = large_truth["nhs_number"].astype(str)
    assert nhs.str.startswith("999").all()
    assert all(is_valid_nhs_number(v) for v in nhs)
    upn = large_truth["upn"].dropna()
    assert all(is_valid_upn(u) for u in upn)
    assert upn.str[1:4].eq("380").all()
    # children who have been at school have a UPN; the under-fours do not
    at_school = large_truth["nc_year_number"] >= 0
    assert large_truth.loc[at_school, "upn"].notna().all()
    assert large_truth.loc[~at_school, "upn"].isna().all()


def test_recorded_nhs_validity_matches_the_knob(large_district: SimulationResult) -> None:
    gp = pd.read_csv(large_district.out / "gp_events" / "patients.csv", dtype=str)
    nhs = gp["nhs_number"].dropna().drop_duplicates()
    assert nhs.str.startswith("999").all()
    invalid = 1 - np.mean([is_valid_nhs_number(v) for v in nhs])
    # knob 0.003 x source scale 0.7 x mean difficulty multiplier ~1.2
    assert 0.0005 < invalid < 0.006
