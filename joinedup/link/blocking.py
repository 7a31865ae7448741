"""Choosing blocking rules for ``joinedup link files`` within a pair budget.

A blocking rule's candidate pairs grow with the square of its block sizes, so a rule that is
cheap on 10,000 records (``family_name`` alone) compares hundreds of millions of pairs on a
million. Rules are taken in the model's order (strongest first) and each is counted in DuckDB
before anything is scored:

- a rule within its allowance (the smaller of the per-rule cap and what is left of the total
  budget) is used as it is;
- a rule over its allowance is **tightened**: one more key that the rule does not already use
  (year of birth, postcode district, sex, first letter of a name) is added, and of the
  tightened rules that fit, the one that keeps the most pairs is used;
- a rule that no tightening brings within its allowance is left out, and the report says so.

Counts are of pairs before duplicates across rules are removed, so the budget is an upper
bound on the pairs that are scored. Both limits grow with the files (pairs per record), with
floors so small files keep every rule.
"""

# SQL here is built from blocking-rule keys (the model's own expressions over standard
# columns), never from row values.
# ruff: noqa: S608

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from joinedup.link.settings import BlockingRuleSpec

# a record has at most a few true matches, so a rule that brings many more candidates per record
# than that is mostly non-matches: over 4 per record it is tightened (a rule of 2M pairs takes
# seconds to score whatever the file size, hence the floor)
PER_RULE_PAIRS_PER_RECORD = 4
PER_RULE_FLOOR = 2_000_000
BUDGET_PAIRS_PER_RECORD = 20
BUDGET_FLOOR = 10_000_000

# (extra key, the column it needs), in the order they are tried; a key is not added to a rule
# that already uses its column (birth year adds nothing to a rule on the full date of birth).
TIGHTENERS: tuple[tuple[str, str], ...] = (
    ("substr(date_of_birth, 1, 4)", "date_of_birth"),
    ("postcode_district", "postcode"),
    ("sex", "sex"),
    ("substr(given_name, 1, 1)", "given_name"),
    ("substr(family_name, 1, 1)", "family_name"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PairLimits:
    """How many candidate pairs one rule, and all rules together, may generate."""

    per_rule: int
    total: int

    @classmethod
    def for_records(
        cls, records: int, *, per_rule: int | None = None, total: int | None = None
    ) -> PairLimits:
        """The default limits for ``records`` input records, or the ones given."""
        return cls(
            per_rule=per_rule or max(PER_RULE_FLOOR, PER_RULE_PAIRS_PER_RECORD * records),
            total=total or max(BUDGET_FLOOR, BUDGET_PAIRS_PER_RECORD * records),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockingChoice:
    """The rules to score with, and a line of the report per candidate rule."""

    rules: tuple[BlockingRuleSpec, ...]
    report: tuple[dict[str, Any], ...]
    limits: PairLimits

    @property
    def counted_pairs(self) -> int:
        return sum(int(r["pairs_used"]) for r in self.report if r["used"])


def count_rule_pairs(
    con: duckdb.DuckDBPyConnection, tables: Sequence[str], rule: BlockingRuleSpec, link_type: str
) -> int:
    """Candidate pairs an equality rule generates (before de-duplication across rules)."""
    if rule.sql is not None:
        return -1  # custom rules are not counted; they are narrow by construction
    not_null = " AND ".join(f"({k}) IS NOT NULL" for k in rule.keys)
    if link_type in ("dedupe_only", "link_and_dedupe"):
        union = " UNION ALL ".join(
            f"SELECT {_aliased(rule.keys)} FROM {t} WHERE {not_null}" for t in tables
        )
        groups = ", ".join(f"k{i}" for i in range(len(rule.keys)))
        sql = (
            "SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM"
            f" (SELECT count(*) AS n FROM ({union}) GROUP BY {groups})"
        )
    else:
        a, b = tables
        joined = ", ".join(f"k{i}" for i in range(len(rule.keys)))
        sql = (
            f"SELECT coalesce(sum(x.n * y.n), 0) FROM "
            f"(SELECT {_aliased(rule.keys)}, count(*) AS n FROM {a} WHERE {not_null}"
            " GROUP BY ALL) x"
            f" JOIN (SELECT {_aliased(rule.keys)}, count(*) AS n FROM {b} WHERE {not_null}"
            f" GROUP BY ALL) y USING ({joined})"
        )
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _aliased(keys: Sequence[str]) -> str:
    return ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))


def _uses(rule: BlockingRuleSpec, column: str) -> bool:
    pattern = re.compile(rf"\b{re.escape(column)}\b")
    return any(pattern.search(k) for k in rule.keys)


def tightenings(rule: BlockingRuleSpec, columns: Sequence[str]) -> list[BlockingRuleSpec]:
    """``rule`` with one more key each, for the tightening keys whose column is present."""
    have = set(columns)
    return [
        BlockingRuleSpec(name=f"{rule.name} & {key}", keys=(*rule.keys, key))
        for key, column in TIGHTENERS
        if column in have and not _uses(rule, column)
    ]


def choose_blocking_rules(
    con: duckdb.DuckDBPyConnection,
    tables: Sequence[str],
    candidates: Sequence[BlockingRuleSpec],
    link_type: str,
    *,
    columns: Sequence[str],
    limits: PairLimits,
) -> BlockingChoice:
    """Rules from ``candidates`` (in order) that fit ``limits``, tightened where they do not.

    ``columns`` are the standard columns both sides hold (the tightening keys need them).
    """
    chosen: list[BlockingRuleSpec] = []
    report: list[dict[str, Any]] = []
    spent = 0
    for rule in candidates:
        if rule.sql is not None:
            chosen.append(rule)
            report.append(
                {"rule": rule.name, "candidate_pairs": None, "used": True, "pairs_used": 0}
            )
            continue
        allowance = min(limits.per_rule, limits.total - spent)
        pairs = count_rule_pairs(con, tables, rule, link_type)
        line: dict[str, Any] = {"rule": rule.name, "candidate_pairs": pairs}
        if pairs <= allowance:
            chosen.append(rule)
            line.update(used=True, pairs_used=pairs)
        else:
            best: tuple[BlockingRuleSpec, int] | None = None
            if allowance > 0:
                for tight in tightenings(rule, columns):
                    n = count_rule_pairs(con, tables, tight, link_type)
                    if n <= allowance and (best is None or n > best[1]):
                        best = (tight, n)
            if best is None:
                why = (
                    "the pair budget is spent"
                    if allowance <= 0
                    else f"over {allowance:,} pairs even when tightened"
                )
                line.update(used=False, pairs_used=0, why=why)
            else:
                chosen.append(best[0])
                line.update(
                    used=True,
                    pairs_used=best[1],
                    tightened_to=best[0].name,
                )
        spent += int(line["pairs_used"])
        report.append(line)
    return BlockingChoice(rules=tuple(chosen), report=tuple(report), limits=limits)
