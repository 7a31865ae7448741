"""The sequential CART engine on tiny frames: donors come from the same stratum, blocks stay
whole, conditions leave other rows NULL, and the seed fixes the draw."""

from __future__ import annotations

import numpy as np
import pandas as pd

from joinedup.synth.cart import CartStep, CartSynthesiser
from joinedup.synth.tables import EVENT_TABLES
from joinedup.synth.twin import PRIVACY_CATEGORICAL, PRIVACY_NUMERIC, replicated_uniques


def _real(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    cohort = rng.integers(2015, 2019, size=n).astype(float)
    flag = np.where(rng.random(n) < 0.3, "true", "false").astype(object)
    score = np.where(flag == "true", rng.integers(0, 10, n), rng.integers(20, 30, n)).astype(float)
    return pd.DataFrame(
        {
            "cohort": cohort,
            "flag": flag,
            "score": score,
            "band": np.where(score < 10, "low", "high").astype(object),
            "year": cohort + 5,
            "count": rng.integers(0, 3, n).astype(float),
        }
    )


STEPS = [
    CartStep(block=("cohort",)),
    CartStep(block=("year",), strata="cohort"),
    CartStep(block=("count",)),
    CartStep(block=("flag",), when=lambda f: f["count"] > 0, categorical=True),
    CartStep(block=("score", "band"), strata="flag", when=lambda f: f["count"] > 0),
]


def _run(seed: int) -> pd.DataFrame:
    empty = pd.DataFrame(index=pd.RangeIndex(300))
    return CartSynthesiser(min_leaf=5, seed=seed).run(_real(), empty, STEPS)


def test_strata_and_blocks_keep_the_rules() -> None:
    out = _run(1)
    assert (out["year"] == out["cohort"] + 5).all()  # drawn within the cohort
    drawn = out[out["count"] > 0]
    assert (drawn["band"] == np.where(drawn["score"] < 10, "low", "high")).all()
    assert ((drawn["flag"] == "true") == (drawn["score"] < 10)).all()  # same-flag donors
    skipped = out[out["count"] == 0]
    assert skipped["flag"].isna().all() and skipped["score"].isna().all()


def test_values_are_real_values() -> None:
    real, out = _real(), _run(2)
    assert set(out["cohort"]) <= set(real["cohort"])
    assert set(out["score"].dropna()) <= set(real["score"])


def test_the_seed_fixes_the_draw() -> None:
    pd.testing.assert_frame_equal(_run(3), _run(3))
    assert not _run(3).equals(_run(4))


def test_an_unknown_stratum_can_stay_empty() -> None:
    real = _real()
    synth = pd.DataFrame({"cohort": [2015.0, 2030.0]})
    step = CartStep(block=("year",), strata="cohort", orphans_from_all=False)
    out = CartSynthesiser(min_leaf=5, seed=0).run(real, synth, [step])
    assert out.loc[0, "year"] == 2020.0
    assert pd.isna(out.loc[1, "year"])


def _person_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    base: dict[str, object] = {c: 1.0 for c in PRIVACY_NUMERIC}
    base.update({t.count_column: 0.0 for t in EVENT_TABLES})
    base.update({c: "x" for c in PRIVACY_CATEGORICAL})
    return pd.DataFrame([{**base, **r} for r in rows])


def test_replicated_uniques_flags_copies_of_unique_training_persons_only() -> None:
    train = _person_frame([{"sex": "F"}, {"sex": "F"}, {"sex": "M"}, {"birth_idx": 7.0}])
    synthetic = _person_frame(
        [
            {"sex": "F"},  # copies a person shared by two: not disclosive
            {"sex": "M"},  # copies the only such training person
            {"birth_idx": 7.0},  # the same
            {"sex": "M", "n_records": 2.0},  # new
        ]
    )
    assert replicated_uniques(synthetic, train).tolist() == [False, True, True, False]
    # an event count of NULL is no rows, as in the twin
    nulls = synthetic.assign(n_admission=None)
    assert replicated_uniques(nulls, train).tolist() == [False, True, True, False]


def test_trees_fitted_on_a_subset_keep_the_relations_and_draw_real_values() -> None:
    """Above ``max_fit_rows`` a tree is fitted on a random subset; donors still come from every
    real row, so values stay real and the flag-score relation survives; at or under the cap the
    draw is the one without a cap."""
    real = _real(2000)
    synth = pd.DataFrame(index=range(2000))
    capped = CartSynthesiser(min_leaf=10, seed=4, max_fit_rows=150).run(real, synth, STEPS)
    assert set(capped["score"].dropna()) <= set(real["score"])
    drawn = capped[capped["flag"].notna()]
    assert (drawn.loc[drawn["flag"] == "true", "score"] < 10).all()
    assert (drawn.loc[drawn["flag"] == "false", "score"] >= 20).all()
    # the twin's share of flagged rows is the real one, within sampling error
    assert abs((drawn["flag"] == "true").mean() - 0.3) < 0.05
    uncapped = CartSynthesiser(min_leaf=10, seed=4).run(real, synth, STEPS)
    at_cap = CartSynthesiser(min_leaf=10, seed=4, max_fit_rows=2000).run(real, synth, STEPS)
    pd.testing.assert_frame_equal(uncapped, at_cap)


def test_donors_are_drawn_balanced_within_a_leaf() -> None:
    """A leaf's synthetic rows take its real rows in turn: with two synthetic rows per real row
    every real row gives two, so the leaf's mix of values is kept exactly, not left to chance;
    with 2.5, two or three."""
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"flag": np.where(rng.random(200) < 0.3, "true", "false").astype(object)})
    for seed in range(5):
        out = CartSynthesiser(min_leaf=5, seed=seed).run(
            real, pd.DataFrame(index=pd.RangeIndex(400)), [CartStep(block=("flag",))]
        )
        assert (out["flag"] == "true").sum() == 2 * (real["flag"] == "true").sum()
    # the donors themselves: each real row two or three times
    leaves = np.zeros(200, dtype=np.int64)
    from joinedup.synth.cart import _draw_from_leaves

    donors = _draw_from_leaves(leaves, np.zeros(500, dtype=np.int64), rng)
    assert set(np.bincount(donors, minlength=200)) == {2, 3}


def test_strata_of_several_columns_keep_donors_within_every_combination() -> None:
    rng = np.random.default_rng(1)
    n = 600
    real = pd.DataFrame(
        {
            "group": rng.choice(["a", "b", "c"], n).astype(object),
            "sex": rng.choice(["F", "M"], n).astype(object),
        }
    )
    real["label"] = real["group"] + real["sex"]
    synth = real[["group", "sex"]].sample(400, random_state=2, replace=True).reset_index(drop=True)
    step = CartStep(block=("label",), strata=("group", "sex"))
    out = CartSynthesiser(min_leaf=5, seed=0).run(real, synth, [step])
    assert (out["label"] == out["group"] + out["sex"]).all()
