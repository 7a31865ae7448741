"""The bias goal judges ethnicity x sex groups of at least 500 real persons, within 2 points."""

from __future__ import annotations

from typing import Any

from joinedup.synth.quality import bias_summary


def _row(
    axis: str, group: str, n: int, gap: float | None, hold: float | None = None
) -> dict[str, Any]:
    return {
        "axis": axis,
        "group": group,
        "real_n": n,
        "max_rate_gap_points": gap,
        "holdout_max_rate_gap_points": hold,
    }


def test_a_large_group_off_by_more_than_two_points_fails_the_goal() -> None:
    rows = [
        _row("ethnicity_sex", "Asian F", 4_000, 1.2, 0.5),  # over the hold-out's chance gap
        _row("ethnicity_sex", "Black M", 600, 2.6, 3.1),  # over 2 points, but within chance
        _row("ethnicity_sex", "Chinese F", 120, 9.0),  # too small to judge
        _row("ethnicity", "White", 40_000, 5.0),  # another axis
    ]
    goal = bias_summary(rows)
    assert goal == {
        "groups_judged": 2,
        "max_rate_gap_points": 2.6,
        "worst_group": "Black M",
        "worst_group_holdout_gap_points": 3.1,
        "within_2_points": False,
        "over_holdout": ["Asian F"],
    }
    assert bias_summary(rows[:1] + rows[2:])["within_2_points"] is True


def test_no_group_large_enough_is_reported_as_such() -> None:
    goal = bias_summary([_row("ethnicity_sex", "Mixed M", 80, 4.0)])
    assert goal["groups_judged"] == 0 and goal["max_rate_gap_points"] is None
