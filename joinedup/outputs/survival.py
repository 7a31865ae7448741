"""Kaplan-Meier tables a child cannot be read from.

Per-time events and censorings are computed in DuckDB; consecutive times are then gathered into
steps until each step holds at least ``km_step`` events + censorings (ACRO's method); the curve is
reported only at step ends, the tail is cut where fewer than ``threshold`` remain at risk, and
at-risk and event counts are rounded by midpoint 6 (or to the profile's base).

Invariant: no released step rests on fewer than ``km_step`` events + censorings.
"""

# SQL here is built from quoted identifiers (``quote``) and fixed table names; values are
# always bound parameters; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import duckdb
import numpy as np

from joinedup.outputs.check import midpoint6, round_to_base
from joinedup.outputs.evidence import query_on, quote
from joinedup.outputs.profiles import RuleProfile


@dataclass(frozen=True, slots=True, kw_only=True)
class KaplanMeier:
    rows: list[tuple[float, float, float, float]]  # (time up to, at risk, events, survival)
    n: int  # people in the curve (kept inside; the ledger needs it)

    def to_csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["time_to", "at_risk_rounded", "events_rounded", "survival"])
        for r in self.rows:
            w.writerow([f"{r[0]:g}", f"{r[1]:g}", f"{r[2]:g}", f"{r[3]:.3f}"])
        return out.getvalue()


def kaplan_meier(
    relation: duckdb.DuckDBPyRelation, *, time: str, event: str, profile: RuleProfile
) -> KaplanMeier:
    per_time = query_on(
        relation,
        f"SELECT CAST({quote(time)} AS DOUBLE) AS t, "
        f"sum(CASE WHEN {quote(event)} THEN 1 ELSE 0 END) AS d, "
        f"count(*) AS m FROM src WHERE {quote(time)} IS NOT NULL GROUP BY 1 ORDER BY 1",
    ).fetchall()
    total = sum(int(r[2]) for r in per_time)
    at_risk = total
    surv = 1.0
    rows: list[tuple[float, float, float, float]] = []
    step_events = 0
    step_exits = 0
    step_start_risk = at_risk

    def rnd(x: float) -> float:
        arr = np.array([x], dtype=np.float64)
        return float(
            (midpoint6(arr) if profile.midpoint6 else round_to_base(arr, profile.round_base))[0]
        )

    for t, d, m in per_time:
        d, m = int(d), int(m)
        if at_risk < profile.threshold:
            break
        surv *= 1 - d / at_risk
        step_events += d
        step_exits += m
        at_risk -= m
        if step_exits >= profile.km_step:
            rows.append((float(t), rnd(step_start_risk), rnd(step_events), round(surv, 3)))
            step_events = 0
            step_exits = 0
            step_start_risk = at_risk
    return KaplanMeier(rows=rows, n=total)
