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

Speed (a 10,000-cell table in about 20 ms of CPU): proofs walk per-row and per-column sets of
suppressed cells rather than slicing the table, and the cheapest rectangle is searched only in
the rows and columns that could hold one as cheap as a known bound (see
``_cheapest_rectangle``). Neither changes a decision: ``tests/outputs/test_fast_checker.py``
compares every cell with the previous implementation (``tests/outputs/reference_check.py``).

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
IntArray = npt.NDArray[np.intp]


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


class _Pattern:
    """The suppressed cells of a two-way table, kept both as a mask (for vectorised searches)
    and as sets of suppressed columns per row and rows per column (for the small searches a
    rectangle proof needs, which numpy would spend its time setting up)."""

    # a proof over more corner pairs than this is cheaper in numpy than in Python
    _PYTHON_PAIRS = 64

    def __init__(self, values: FloatArray, supp: BoolArray) -> None:
        self.values = values
        self.cells: list[list[float]] = values.tolist()
        self.supp = supp
        self.in_row: list[set[int]] = [set(np.nonzero(r)[0].tolist()) for r in supp]
        self.in_col: list[set[int]] = [set(np.nonzero(c)[0].tolist()) for c in supp.T]

    def add(self, i: int, j: int) -> None:
        self.supp[i, j] = True
        self.in_row[i].add(j)
        self.in_col[j].add(i)

    def proof(self, i: int, j: int, one_way: bool, need: float = np.inf) -> float:
        """The widest range a rectangle (or, one-way, a pair) of suppressed cells proves for
        (i, j): moving +d at (i, j) and (k, l) and -d at (i, l) and (k, j) keeps every margin.
        Stops at the first rectangle proving ``need``."""
        row = self.cells[i]
        x = row[j]
        if one_way:
            others = [row[col] for col in self.in_row[i] if col != j]
            return max(others) + x if others else 0.0
        ks = [k for k in self.in_col[j] if k != i]
        ls = [col for col in self.in_row[i] if col != j]
        if not ks or not ls:
            return 0.0
        if len(ks) * len(ls) > self._PYTHON_PAIRS:
            return self._proof_numpy(i, j, np.array(sorted(ks)), np.array(sorted(ls)))
        best = 0.0
        for k in ks:
            other = self.in_row[k]
            rk = self.cells[k]
            xkj = rk[j]
            for col in ls:
                if col in other:
                    ril, rkl = row[col], rk[col]
                    width = (ril if ril < xkj else xkj) + (x if x < rkl else rkl)
                    if width > best:
                        if width >= need:
                            return width
                        best = width
        return best

    def _proof_numpy(self, i: int, j: int, ks: IntArray, ls: IntArray) -> float:
        values = self.values
        corner = self.supp[np.ix_(ks, ls)]
        if not corner.any():
            return 0.0
        up = np.minimum(values[i, ls][None, :], values[ks, j][:, None])
        down = np.minimum(values[i, j], values[np.ix_(ks, ls)])
        return float(np.where(corner, up + down, 0.0).max())


def _rectangle_grid(
    values: FloatArray,
    cost_of: FloatArray,
    a: FloatArray,
    b: FloatArray,
    i: int,
    j: int,
    protection: float,
    ks: IntArray,
    ls: IntArray,
) -> FloatArray:
    """The cost of each rectangle (i, j) (i, l) (k, j) (k, l), k in ``ks`` and l in ``ls``,
    that proves ``protection`` alone, else inf (``a``, ``b``: row i's and column j's costs)."""
    at = (ks[:, None], ls[None, :])
    width = np.minimum(values[i, ls][None, :], values[ks, j][:, None])
    width += np.minimum(values[i, j], values[at])
    cost = a[ls][None, :] + b[ks][:, None]
    cost += cost_of[at]
    return np.where(width >= protection, cost, np.inf)


def _cheapest_rectangle(
    values: FloatArray,
    cost_of: FloatArray,
    i: int,
    j: int,
    protection: float,
    one_way: bool,
    guess: float = np.inf,
) -> tuple[list[tuple[int, int]], bool]:
    """The cells to add so that (i, j) gets a proof, and whether they alone prove enough; ([],
    False) when none exists. ``cost_of`` is 0 for suppressed cells, inf for cells that may not
    be suppressed, else the cell's value.

    Two-way, the cheapest rectangle is found in a bounded search for one costing at most U,
    where U is ``guess`` (the caller's last rectangle's cost) or, if nothing that cheap exists,
    the cheapest rectangle among a few cheap rows and columns. As every cost is
    ``a[l] + b[k] + cost_of[k, l]`` with all three terms >= 0 (and float addition is
    monotone), only rows with
    ``min(a) + b[k] <= U`` and columns with ``a[l] + min(b) <= U`` can hold a rectangle as
    cheap, so the search runs on those alone; if its best costs at most U, it is the best of
    the whole table. Their order is kept, so ties go to the same (first, row-major) rectangle
    as a search of the whole table.
    """
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
    a = cost_of[i].copy()
    a[j] = np.inf  # no rectangle runs through row i or column j twice
    b = cost_of[:, j].copy()
    b[i] = np.inf
    rows, cols = values.shape
    if rows > 2 * _SEED_LINES and cols > 2 * _SEED_LINES:
        a_min, b_min = a.min(), b.min()

        def within(bound: float) -> list[tuple[int, int]] | None:
            """The cheapest rectangle if it costs at most ``bound``, else None."""
            ks = np.flatnonzero(a_min + b <= bound)
            ls = np.flatnonzero(a + b_min <= bound)
            if not ks.size or not ls.size:
                return None
            good = _rectangle_grid(values, cost_of, a, b, i, j, protection, ks, ls)
            at = int(np.argmin(good))
            if not good.flat[at] <= bound:
                return None
            at_k, at_l = divmod(at, ls.size)
            k, col = int(ks[at_k]), int(ls[at_l])
            return [(i, col), (k, j), (k, col)]

        # the last rectangle's cost is a good first guess (most cost the same few cells); a
        # wrong guess only costs a second, seeded try
        found = within(guess) if guess < np.inf else None
        if found is None:
            k0 = np.argpartition(b, _SEED_LINES)[:_SEED_LINES]
            l0 = np.argpartition(a, _SEED_LINES)[:_SEED_LINES]
            bound = float(_rectangle_grid(values, cost_of, a, b, i, j, protection, k0, l0).min())
            found = within(bound) if bound < np.inf else None
        if found is not None:
            return found, True
    # every (k, l) at once
    width = np.minimum(values[i][None, :], values[:, j][:, None]) + np.minimum(x, values)
    cost = a[None, :] + b[:, None] + cost_of
    good = np.where(width >= protection, cost, np.inf)
    enough = bool(np.isfinite(good).any())
    if not enough:
        # no rectangle suffices alone: add the widest (cheapest among equals); cycles add up
        good = np.where(np.isfinite(cost), -width * 1e9 + cost, np.inf)
    if not np.isfinite(good).any():
        return [], False
    at_k, at_l = np.unravel_index(int(np.argmin(good)), good.shape)
    return [(i, int(at_l)), (int(at_k), j), (int(at_k), int(at_l))], enough


# rows and columns the bounded rectangle search seeds its upper bound with
_SEED_LINES = 8


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
    pattern = _Pattern(values, supp)
    targets = [(int(i), int(j)) for i, j in zip(*np.nonzero(primary), strict=True)]
    # no cell can be hidden in a range wider than its own row or column total
    rows_total, cols_total = values.sum(axis=1).tolist(), values.sum(axis=0).tolist()

    def need(i: int, j: int) -> float:
        cap = rows_total[i] if one_way else min(rows_total[i], cols_total[j])
        return float(min(protection, cap))

    done: set[tuple[int, int]] = set()
    cost_of = np.where(supp, 0.0, np.where(blocked, np.inf, values))

    def protected(i: int, j: int, exact: bool = True) -> bool:
        if (i, j) in done:
            return True
        # a rectangle needs two suppressed cells in the cell's row and in its column
        possible = len(pattern.in_row[i]) >= 2 and (one_way or len(pattern.in_col[j]) >= 2)
        ok = possible and pattern.proof(i, j, one_way, need(i, j)) >= need(i, j)
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

    last_cost = np.inf
    for rnd in range(6):  # added cells only widen ranges, so a protected cell stays protected
        changed = False
        for i, j in targets:
            # the first round adds rectangles only; exact LP checks are for what they leave
            if protected(i, j, exact=rnd > 0):
                continue
            add, enough = _cheapest_rectangle(
                values, cost_of, i, j, need(i, j), one_way, guess=last_cost
            )
            if enough:
                last_cost = float(sum(cost_of[cell] for cell in add))
            if enough:
                done.add((i, j))  # its new rectangle is its proof
            for cell in add:
                if not supp[cell]:
                    pattern.add(*cell)
                    cost_of[cell] = 0.0
                    changed = True
        if not changed:
            break
    proven = all(protected(i, j) for i, j in targets)
    return ProtectResult(suppressed=supp, lp_checked=proven)
