"""Choosing blocking rules within a pair budget: counts, tightening, leaving out, the budget."""

from __future__ import annotations

import itertools
import random

import duckdb
import pytest

from joinedup.link.blocking import (
    PairLimits,
    choose_blocking_rules,
    count_rule_pairs,
    tightenings,
)
from joinedup.link.settings import BlockingRuleSpec

COLUMNS = ("given_name", "family_name", "date_of_birth", "sex", "postcode")


def _rule(*keys: str) -> BlockingRuleSpec:
    return BlockingRuleSpec(name=" & ".join(keys), keys=keys)


def _people(n: int, seed: int) -> list[tuple[str, ...]]:
    """Records with few family names (so a rule on it alone is wide), varied years and areas."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        year = rng.choice(["2010", "2012", "2014", "2016"])
        district = rng.choice(["LS1", "LS2", "BD1", "BD7", "HX1"])
        rows.append(
            (
                f"r{seed}-{i}",
                rng.choice(["ann", "bo", "cy", "di", "ed", "fay", "gus", "hal"]),
                rng.choice(["khan", "smith", "patel"]),
                f"{year}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                rng.choice(["F", "M"]),
                f"{district} {rng.randint(1, 9)}AA",
                district,
            )
        )
    return rows


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, seed in (("a", 1), ("b", 2)):
        con.execute(
            f"CREATE TABLE {name} (record_id VARCHAR, given_name VARCHAR, family_name VARCHAR,"
            " date_of_birth VARCHAR, sex VARCHAR, postcode VARCHAR, postcode_district VARCHAR)"
        )
        con.executemany(f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?, ?, ?)", _people(300, seed))
    return con


def _brute_force(con: duckdb.DuckDBPyConnection, rule: BlockingRuleSpec, dedupe: bool) -> int:
    left = ", ".join(f"{k} AS k{i}" for i, k in enumerate(rule.keys))
    rows_a = con.execute(f"SELECT record_id, {left} FROM a").fetchall()
    rows_b = con.execute(f"SELECT record_id, {left} FROM b").fetchall()
    if dedupe:
        rows = rows_a + rows_b
        return sum(1 for x, y in itertools.combinations(rows, 2) if x[1:] == y[1:])
    return sum(1 for x in rows_a for y in rows_b if x[1:] == y[1:])


@pytest.mark.parametrize(
    "keys",
    [
        ("family_name",),
        ("family_name", "substr(date_of_birth, 1, 4)"),
        ("given_name", "postcode_district", "sex"),
    ],
)
@pytest.mark.parametrize("link_type", ["link_only", "dedupe_only"])
def test_counts_are_the_pairs_a_join_would_make(
    con: duckdb.DuckDBPyConnection, keys: tuple[str, ...], link_type: str
) -> None:
    rule = _rule(*keys)
    tables = ["a", "b"]
    counted = count_rule_pairs(con, tables, rule, link_type)
    assert counted == _brute_force(con, rule, dedupe=link_type == "dedupe_only")
    assert counted > 0


def test_tightening_never_adds_a_column_the_rule_already_uses() -> None:
    rule = _rule("date_of_birth", "substr(family_name, 1, 3)")
    added = [t.keys[-1] for t in tightenings(rule, COLUMNS)]
    assert added == ["postcode_district", "sex", "substr(given_name, 1, 1)"]
    # and only for columns both sides hold
    assert [t.keys[-1] for t in tightenings(_rule("given_name"), ("given_name", "sex"))] == ["sex"]


def test_a_rule_within_its_allowance_is_used_as_it_is(con: duckdb.DuckDBPyConnection) -> None:
    rule = _rule("given_name", "family_name")
    pairs = count_rule_pairs(con, ["a", "b"], rule, "link_only")
    choice = choose_blocking_rules(
        con,
        ["a", "b"],
        [rule],
        "link_only",
        columns=COLUMNS,
        limits=PairLimits(per_rule=pairs, total=pairs),
    )
    assert choice.rules == (rule,)
    assert choice.report[0] == {
        "rule": rule.name,
        "candidate_pairs": pairs,
        "used": True,
        "pairs_used": pairs,
    }


def test_a_wide_rule_is_tightened_with_the_key_that_keeps_most_pairs(
    con: duckdb.DuckDBPyConnection,
) -> None:
    wide = _rule("family_name")
    wide_pairs = count_rule_pairs(con, ["a", "b"], wide, "link_only")
    counts = {
        t.keys[-1]: count_rule_pairs(con, ["a", "b"], t, "link_only")
        for t in tightenings(wide, COLUMNS)
    }
    # an allowance that the two widest tightenings exceed: the third widest must be chosen
    ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
    allowance = ranked[2][1]
    assert ranked[1][1] > allowance and wide_pairs > allowance
    choice = choose_blocking_rules(
        con,
        ["a", "b"],
        [wide],
        "link_only",
        columns=COLUMNS,
        limits=PairLimits(per_rule=allowance, total=10 * allowance),
    )
    (line,) = choice.report
    assert line["used"] and line["candidate_pairs"] == wide_pairs
    assert line["pairs_used"] == allowance
    assert choice.rules[0].keys == ("family_name", ranked[2][0])
    assert line["tightened_to"] == choice.rules[0].name


def test_a_rule_too_wide_even_tightened_is_left_out_with_the_reason(
    con: duckdb.DuckDBPyConnection,
) -> None:
    choice = choose_blocking_rules(
        con,
        ["a", "b"],
        [_rule("sex")],
        "link_only",
        columns=("sex",),
        limits=PairLimits(per_rule=10, total=100),
    )
    assert choice.rules == ()
    assert choice.report[0]["used"] is False
    assert choice.report[0]["why"] == "over 10 pairs even when tightened"


def test_the_total_budget_is_shared_in_the_rules_order(con: duckdb.DuckDBPyConnection) -> None:
    first, second = _rule("given_name", "family_name"), _rule("family_name", "sex")
    n1 = count_rule_pairs(con, ["a", "b"], first, "link_only")
    swap = BlockingRuleSpec(
        name="swap", keys=("given_name", "family_name"), sql="l.given_name = r.family_name"
    )
    choice = choose_blocking_rules(
        con,
        ["a", "b"],
        [first, swap, second],
        "link_only",
        columns=COLUMNS,
        limits=PairLimits(per_rule=10 * n1, total=n1),
    )
    # the first rule spends the whole budget; custom SQL rules are not counted and always kept
    assert choice.rules == (first, swap)
    assert choice.report[2]["why"] == "the pair budget is spent"
    assert choice.counted_pairs == n1


def test_default_limits_grow_with_the_records_above_their_floors() -> None:
    assert PairLimits.for_records(1_000) == PairLimits(per_rule=2_000_000, total=10_000_000)
    assert PairLimits.for_records(2_000_000) == PairLimits(per_rule=8_000_000, total=40_000_000)
    assert PairLimits.for_records(2_000_000, total=5) == PairLimits(per_rule=8_000_000, total=5)
