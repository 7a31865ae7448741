"""The DCR tail compares shares at the hold-out's 5th percentile, not the percentiles."""

from __future__ import annotations

import numpy as np

from joinedup.synth.quality import dcr_tail


def _distances(shares: dict[float, int]) -> np.ndarray:
    """Distances on discrete steps: ``{step: how many records}``, shuffled."""
    out = np.concatenate([np.full(n, step) for step, n in shares.items()])
    return np.random.default_rng(0).permutation(out)


def test_a_percentile_jump_between_steps_is_not_a_heavier_tail() -> None:
    # 4.8% of hold-out records and 5.2% of twin records one step (0.001) from a training
    # record: the 5th percentiles fall on different steps (0.011 against 0.001), but the
    # shares at the hold-out's cut differ by chance only
    hold = _distances({0.001: 240, 0.011: 1_000, 0.5: 3_760})
    twin = _distances({0.001: 260, 0.011: 1_000, 0.5: 3_740})
    assert np.percentile(twin, 5) < np.percentile(hold, 5)
    tail = dcr_tail(twin, hold)
    assert tail["dcr_tail_cut"] == 0.011
    assert tail["dcr_tail_share_holdout"] == 0.248
    assert tail["dcr_tail_share_synthetic"] == 0.252
    low, high = tail["dcr_tail_excess_ci95_points"]
    assert low < 0 < high
    assert tail["dcr_tail_not_heavier"] is True


def test_a_twin_with_many_near_copies_has_a_heavier_tail() -> None:
    hold = _distances({0.001: 100, 0.011: 400, 0.5: 4_500})
    twin = _distances({0.0: 900, 0.011: 400, 0.5: 3_700})
    tail = dcr_tail(twin, hold)
    assert tail["dcr_tail_excess_points"] == 16.0  # 26% against 10%
    assert tail["dcr_tail_excess_ci95_points"][0] > 0
    assert tail["dcr_tail_not_heavier"] is False
