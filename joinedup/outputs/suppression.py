"""Secondary suppression, and the feasible interval of every suppressed cell.

A table's true margins may be known to an attacker (from a one-way table released elsewhere, or
from the population itself), so a suppressed cell must not be recoverable from its row and column
totals. ``protect`` applies the hypercube method (Repsilber; Giessing) to two-way tables: each
primary cell must be a corner of a rectangle of suppressed cells ``(i,j) (i,l) (k,j) (k,l)``
along which it can move far enough: moving ``+d`` at ``(i,j)`` and ``(k,l)`` and ``-d`` at the
other two keeps every margin, so the attacker's range for the cell is at least
``min(x_il, x_kj) + min(x_ij, x_kl)`` wide. A primary cell without such a proof gets the
cheapest rectangle (least value newly suppressed) that gives one. One-way tables (only the
grand total known) use pairs instead of rectangles.

Where no single rectangle proves enough (several cycles may together), ``feasible_intervals``
computes the attacker's exact range by linear programming (HiGHS through
``scipy.optimize.linprog``) for that cell only; the tests use it to check every result.

Invariants: ``protect`` only adds suppression; afterwards every primary cell has a rectangle (or
pair) proof of at least ``protection`` (or of its row or column total, if smaller: no pattern
can do more), unless every eligible cell of the table is suppressed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, vstack

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtectResult:
    suppressed: BoolArray  # 2-D, primary + secondary
    lp_checked: bool  # True when every primary cell has a rectangle proof (see module doc)


def feasible_intervals(
    values: FloatArray,
    suppressed: BoolArray,
    targets: list[tuple[int, int]],
    *,
    one_way: bool = False,
    upper: float | None = None,
) -> dict[tuple[int, int], tuple[float, float]]:
    """The attacker's [min, max] for each target cell, knowing the true line totals of
    ``values``, every unsuppressed cell exactly, and that suppressed cells lie in [0, upper]."""
    cells = np.argwhere(suppressed)
    m = len(cells)
    index = {(int(r), int(c)): k for k, (r, c) in enumerate(cells)}
    blocks = []
    rhs = []
    groups = [cells[:, 0]] if one_way else [cells[:, 0], cells[:, 1]]
    for g in groups:
        keys, pos = np.unique(g, return_inverse=True)
        blocks.append(coo_matrix((np.ones(m), (pos, np.arange(m))), shape=(len(keys), m)))
        rhs.append(np.bincount(pos, weights=values[cells[:, 0], cells[:, 1]], minlength=len(keys)))
    a_eq = vstack(blocks).tocsr() if m else None
    b_eq = np.concatenate(rhs) if m else None
    bounds = [(0.0, upper)] * m
    result: dict[tuple[int, int], tuple[float, float]] = {}
    for t in targets:
        c = np.zeros(m)
        c[index[t]] = 1.0
        lo = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        hi = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        low = float(lo.fun) if lo.status == 0 else 0.0
        high = float(-hi.fun) if hi.status == 0 else float("inf")
        result[t] = (low, high)
    return result


def _component(supp: BoolArray, i: int, j: int) -> BoolArray:
    """The suppressed cells linked to (i, j) through shared rows and columns."""
    rows_seen = np.zeros(supp.shape[0], dtype=bool)
    cols_seen = np.zeros(supp.shape[1], dtype=bool)
    rows_seen[i] = True
    cols_seen[j] = True
    while True:
        new_cols = supp[rows_seen].any(axis=0) & ~cols_seen
        cols_seen |= new_cols
        new_rows = supp[:, cols_seen].any(axis=1) & ~rows_seen
        rows_seen |= new_rows
        if not new_cols.any() and not new_rows.any():
            break
    return np.asarray(supp & rows_seen[:, None] & cols_seen[None, :])


def _proof(values: FloatArray, supp: BoolArray, i: int, j: int, one_way: bool) -> float:
    """The widest range a rectangle (or, one-way, a pair) of suppressed cells proves for (i, j)."""
    x = values[i, j]
    if one_way:
        others = np.nonzero(supp[i])[0]
        others = others[others != j]
        return float((values[i, others] + min(x, np.inf)).max()) if others.size else 0.0
    ks = np.nonzero(supp[:, j])[0]
    ls = np.nonzero(supp[i, :])[0]
    ks, ls = ks[ks != i], ls[ls != j]
    if not ks.size or not ls.size:
        return 0.0
    corner = supp[ks][:, ls]
    if not corner.any():
        return 0.0
    up = np.minimum(values[i, ls][None, :], values[ks, j][:, None])
    down = np.minimum(x, values[ks][:, ls])
    return float(np.where(corner, up + down, 0.0).max())


def _cheapest_rectangle(
    values: FloatArray,
    cost_of: FloatArray,
    i: int,
    j: int,
    protection: float,
    one_way: bool,
) -> tuple[list[tuple[int, int]], bool]:
    """The cells to add so that (i, j) gets a proof, and whether they alone prove enough; ([],
    False) when none exists. ``cost_of`` is 0 for suppressed cells, inf for cells that may not
    be suppressed, else the cell's value."""
    x = values[i, j]
    if one_way:
        ok = values[i] + x >= protection
        cost = np.where(ok, cost_of[i], np.inf)
        cost[j] = np.inf
        enough = bool(np.isfinite(cost).any())
        if not enough:  # nothing big enough: take the largest eligible
            cost = np.where(np.isfinite(cost_of[i]), -values[i], np.inf)
            cost[j] = np.inf
        best = int(np.argmin(cost))
        return ([], False) if not np.isfinite(cost[best]) else ([(i, best)], enough)
    # every (k, l) at once: the rectangle (i, j) (i, l) (k, j) (k, l)
    width = np.minimum(values[i][None, :], values[:, j][:, None]) + np.minimum(x, values)
    cost = cost_of[i][None, :] + cost_of[:, j][:, None] + cost_of
    cost[i, :] = np.inf
    cost[:, j] = np.inf
    good = np.where(width >= protection, cost, np.inf)
    enough = bool(np.isfinite(good).any())
    if not enough:
        # no rectangle suffices alone: add the widest (cheapest among equals); cycles add up
        good = np.where(np.isfinite(cost), -width * 1e9 + cost, np.inf)
    if not np.isfinite(good).any():
        return [], False
    k, col = np.unravel_index(int(np.argmin(good)), good.shape)
    return [(i, int(col)), (int(k), j), (int(k), int(col))], enough


def protect(
    values: FloatArray,
    primary: BoolArray,
    *,
    protection: float,
    one_way: bool = False,
    eligible: BoolArray | None = None,
) -> ProtectResult:
    """Primary plus secondary suppression for a 2-D table (``one_way``: a 1 x k table whose only
    known margin is the grand total). ``eligible`` marks cells that may be suppressed (structural
    zeros may not: everyone knows them)."""
    supp = primary.copy()
    blocked = ~eligible if eligible is not None else np.zeros_like(primary)
    targets = [(int(i), int(j)) for i, j in zip(*np.nonzero(primary), strict=True)]
    # no cell can be hidden in a range wider than its own row or column total
    rows_total, cols_total = values.sum(axis=1), values.sum(axis=0)

    def need(i: int, j: int) -> float:
        cap = rows_total[i] if one_way else min(rows_total[i], cols_total[j])
        return float(min(protection, cap))

    done: set[tuple[int, int]] = set()
    cost_of = np.where(supp, 0.0, np.where(blocked, np.inf, values))

    def protected(i: int, j: int, exact: bool = True) -> bool:
        if (i, j) in done:
            return True
        ok = _proof(values, supp, i, j, one_way) >= need(i, j)
        if not ok and exact:
            # several cycles together may protect what no single rectangle does: solve it
            # exactly on the cell's connected component of suppressed cells (the rest of the
            # table cannot move it)
            part = supp if one_way else _component(supp, i, j)
            lo, hi = feasible_intervals(values, part, [(i, j)], one_way=one_way)[(i, j)]
            ok = hi - lo >= need(i, j) - 1e-9
        if ok:
            done.add((i, j))  # added cells only widen ranges: it stays protected
        return ok

    for rnd in range(6):  # added cells only widen ranges, so a protected cell stays protected
        changed = False
        for i, j in targets:
            # the first round adds rectangles only; exact LP checks are for what they leave
            if protected(i, j, exact=rnd > 0):
                continue
            add, enough = _cheapest_rectangle(values, cost_of, i, j, need(i, j), one_way)
            if enough:
                done.add((i, j))  # its new rectangle is its proof
            for cell in add:
                if not supp[cell]:
                    supp[cell] = True
                    cost_of[cell] = 0.0
                    changed = True
        if not changed:
            break
    proven = all(protected(i, j) for i, j in targets)
    return ProtectResult(suppressed=supp, lp_checked=proven)
