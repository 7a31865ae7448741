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
        "worst_groups": [
            {"group": "Black M", "real_n": 600, "gap_points": 2.6, "holdout_gap_points": 3.1},
            {"group": "Asian F", "real_n": 4_000, "gap_points": 1.2, "holdout_gap_points": 0.5},
        ],
        "rates_judged": 0,  # no rate's real count given
        "rates_max_gap_points": None,
        "rates_worst": None,
        "rates_within_2_points": True,
        "over_holdout": ["Asian F"],
    }
    assert bias_summary(rows[:1] + rows[2:])["within_2_points"] is True


def test_no_group_large_enough_is_reported_as_such() -> None:
    goal = bias_summary([_row("ethnicity_sex", "Mixed M", 80, 4.0)])
    assert goal["groups_judged"] == 0 and goal["max_rate_gap_points"] is None


def test_rates_are_judged_where_measured_on_500_real_children() -> None:
    group = _row("ethnicity_sex", "Mixed F", 2_400, 3.1, 2.7)
    group.update(
        real_gld=0.760, twin_gld=0.756, real_gld_n=774,  # 0.4 points, on 774 children
        real_asq_all_five=0.827, twin_asq_all_five=0.795, real_asq_all_five_n=480,  # too few
        real_sen_any=0.142, twin_sen_any=0.170, real_sen_any_n=1_586,  # 2.8 points
    )  # fmt: skip
    goal = bias_summary([group])
    assert goal["groups_judged"] == 1 and goal["within_2_points"] is False
    assert goal["rates_judged"] == 2
    assert goal["rates_max_gap_points"] == 2.8 and goal["rates_worst"] == "Mixed F sen_any"
    assert goal["rates_within_2_points"] is False
    group["twin_sen_any"] = 0.150
    assert bias_summary([group])["rates_within_2_points"] is True
