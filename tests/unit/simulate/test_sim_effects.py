"""Planted effects are recovered from the truth people table; prevalences are plausible."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from joinedup.simulate import PLANTED_EFFECTS, SimulationResult
from joinedup.simulate.outcomes import estimate_effect

_ESTIMABLE = [e for e in PLANTED_EFFECTS if e.measure != "range"]


@pytest.mark.parametrize("effect", _ESTIMABLE, ids=lambda e: e.name)
def test_planted_effect_is_recovered(large_truth: pd.DataFrame, effect) -> None:
    estimate = estimate_effect(effect, large_truth)
    assert estimate == pytest.approx(effect.true_value, rel=effect.tolerance)


def test_not_school_ready_doubles_persistent_absence_odds(large_truth: pd.DataFrame) -> None:
    effect = next(e for e in PLANTED_EFFECTS if e.name == "not_gld_to_persistent_absence")
    assert estimate_effect(effect, large_truth) >= 2.0


def test_post16_school_shares_span_8_to_29_percent(large_district: SimulationResult) -> None:
    effects = json.loads((large_district.out / "truth" / "effects.json").read_text())
    rows = effects["school_level"]["post16_school_shares"]
    planted = [r["planted_share"] for r in rows]
    assert min(planted) == pytest.approx(0.08) and max(planted) == pytest.approx(0.29)
    big = [r for r in rows if r["pupils"] >= 400]
    for r in big:
        assert r["realised_share"] == pytest.approx(r["planted_share"], abs=0.05)


def test_prevalences_are_in_sensible_bands(large_truth: pd.DataFrame) -> None:
    p = large_truth
    pupils = p[p["school_urn"].notna()]
    bands = {
        "fsm": (pupils["fsm"].mean(), 0.22, 0.34),
        "sen_support": ((pupils["senprovision"] == "K").mean(), 0.11, 0.17),
        "ehcp": ((pupils["senprovision"] == "E").mean(), 0.035, 0.065),
        "persistent_absence": (p.loc[p["pa_eligible"], "persistent_absence"].mean(), 0.17, 0.23),
        "gld": (p["gld"].mean(), 0.62, 0.72),
        "cin": (p["is_cin"].mean(), 0.026, 0.041),
        "cla": (p["is_cla"].mean(), 0.005, 0.009),
        "eal": (p["eal"].mean(), 0.33, 0.42),
        "south_asian": (
            p["ethnic_group"].isin(["pakistani", "bangladeshi", "indian"]).mean(),
            0.36,
            0.44,
        ),
    }
    for name, (value, lo, hi) in bands.items():
        assert lo <= value <= hi, name


def test_deprivation_gradients(large_truth: pd.DataFrame) -> None:
    p = large_truth
    by_q = p.groupby("imd_quintile")
    assert by_q["is_cin"].mean()[1] > 2 * by_q["is_cin"].mean()[5]
    assert by_q["n_moves"].mean()[1] > by_q["n_moves"].mean()[5]
    assert by_q["gld"].mean()[1] < by_q["gld"].mean()[5]
    assert np.isclose(p["behind_at_two"].mean(), 1 - p["asq_all_expected"].mean())
