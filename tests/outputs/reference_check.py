"""The checker as it was before it was made faster, kept as the reference the fast checker is
tested against (``test_fast_checker.py``): the primary rules, the hypercube secondary suppression
with its exact LP fallback, and the released values and margins, unchanged.

Frozen: do not optimise this file. Types and the rounding helpers come from the package (they are
not what changed); the algorithms are copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, vstack

from joinedup.errors import DisclosureBlocked, UsageError
from joinedup.outputs.check import (
    EXTREMES,
    MAGNITUDE,
    CellStatus,
    Statistic,
    TableResult,
    round_to_base,
)
from joinedup.outputs.evidence import FloatArray, IntArray, TableEvidence
from joinedup.outputs.profiles import RuleProfile

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceProtectResult:
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


def reference_protect(
    values: FloatArray,
    primary: BoolArray,
    *,
    protection: float,
    one_way: bool = False,
    eligible: BoolArray | None = None,
) -> ReferenceProtectResult:
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
    # suppressed cells per row and column: a rectangle needs two in the cell's row and column
    in_row = supp.sum(axis=1)
    in_col = supp.sum(axis=0)

    def protected(i: int, j: int, exact: bool = True) -> bool:
        if (i, j) in done:
            return True
        possible = in_row[i] >= 2 and (one_way or in_col[j] >= 2)
        ok = possible and _proof(values, supp, i, j, one_way) >= need(i, j)
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
                    in_row[cell[0]] += 1
                    in_col[cell[1]] += 1
                    changed = True
        if not changed:
            break
    proven = all(protected(i, j) for i, j in targets)
    return ReferenceProtectResult(suppressed=supp, lp_checked=proven)


def _primary(
    ev: TableEvidence, profile: RuleProfile, statistic: Statistic, structural: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.bool_], list[tuple[str, ...]], dict[str, int]]:
    n = ev.n
    fails: dict[str, npt.NDArray[np.bool_]] = {}
    fails["threshold"] = (n > 0) & (n < profile.threshold)
    if profile.zeros_disclosive:
        fails["zero"] = (n == 0) & ~structural
    if len(ev.dims) == 2 and statistic is Statistic.COUNT:
        rows = _row_index(ev)
        nonzero = (n > 0).astype(np.int64)
        per_row = np.bincount(rows, weights=nonzero, minlength=rows.max() + 1 if rows.size else 0)
        fails["class"] = (n == 0) & ~structural & (per_row[rows] == 1)
    if statistic in MAGNITUDE:
        total = np.abs(ev.total)
        with np.errstate(divide="ignore", invalid="ignore"):
            for k_n, k in profile.nk_rules:
                top = ev.top1 if k_n == 1 else ev.top1 + ev.top2
                fails[f"nk_{k_n}_{k:g}"] = (n > 0) & (top >= k * total) & (total > 0)
            rest = ev.total - ev.top1 - ev.top2
            fails["p_percent"] = (n > 0) & (ev.top1 > 0) & (rest / ev.top1 < profile.p_ratio)
        fails["negative"] = ev.negatives > 0
    any_fail = np.zeros(ev.size, dtype=bool)
    for mask in fails.values():
        any_fail |= mask
    reasons: list[tuple[str, ...]] = [()] * ev.size
    for i in np.nonzero(any_fail)[0]:
        reasons[int(i)] = tuple(name for name, mask in fails.items() if mask[i])
    counts = {name: int(mask.sum()) for name, mask in fails.items()}
    return any_fail, reasons, counts


def _row_index(ev: TableEvidence) -> IntArray:
    _, inv = np.unique(ev.keys[0].astype(str), return_inverse=True)
    return np.asarray(inv, dtype=np.int64)


def _shape(ev: TableEvidence) -> tuple[int, int] | None:
    """(rows, cols) when the cells form a full, row-major grid of one or two dimensions."""
    if len(ev.dims) == 1:
        return (1, ev.size)
    if len(ev.dims) == 2:
        r = len(np.unique(ev.keys[0].astype(str)))
        c = len(np.unique(ev.keys[1].astype(str)))
        if r * c == ev.size:
            return (r, c)
    return None


def reference_check_table(
    evidence: TableEvidence,
    profile: RuleProfile,
    *,
    statistic: Statistic = Statistic.COUNT,
    structural_zeros: frozenset[tuple[str, ...]] = frozenset(),
) -> TableResult:
    """The reference ``check_table``."""
    if statistic in EXTREMES and profile.block_extremes:
        raise DisclosureBlocked(
            f"{statistic.value} is an extreme value (one child's own value): blocked by the "
            f"{profile.name} profile; release rounded quantiles or a banded table instead"
        )
    ev = evidence
    structural = np.zeros(ev.size, dtype=bool)
    if structural_zeros:
        structural = np.array(
            [ev.labels(i) in structural_zeros for i in range(ev.size)], dtype=bool
        )
    if structural_zeros and bool((ev.n[structural] > 0).any()):
        raise UsageError("a cell declared a structural zero holds people: the declaration is wrong")
    primary, reasons, counts = _primary(ev, profile, statistic, structural)
    suppressed = primary.copy()
    lp_checked = True
    additive = statistic in (Statistic.COUNT, Statistic.SUM)
    shape = _shape(ev)
    if profile.secondary and additive and shape is not None and bool(primary.any()):
        base = ev.n.astype(np.float64) if statistic is Statistic.COUNT else np.abs(ev.total)
        res = reference_protect(
            base.reshape(shape),
            primary.reshape(shape),
            protection=float(profile.threshold),
            one_way=len(ev.dims) == 1,
            eligible=~structural.reshape(shape),
        )
        suppressed = res.suppressed.reshape(-1)
        lp_checked = res.lp_checked
    status = np.full(ev.size, CellStatus.RELEASED.value, dtype=object)
    status[structural] = CellStatus.STRUCTURAL_ZERO.value
    status[suppressed & ~primary] = CellStatus.SECONDARY.value
    status[primary] = CellStatus.PRIMARY.value
    counts["secondary"] = int((suppressed & ~primary).sum())
    if statistic is Statistic.COUNT:
        raw = ev.n.astype(np.float64)
        values = round_to_base(raw, profile.round_base)
    elif statistic is Statistic.SUM:
        values = ev.total.copy()
    elif statistic is Statistic.MEAN:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.round(ev.total / np.maximum(ev.n, 1), 2)
    elif statistic is Statistic.MEDIAN:
        values = ev.median.copy()
    else:
        values = np.where(statistic is Statistic.MIN, ev.minimum, ev.maximum)
    values = np.where(suppressed, np.nan, values)
    values[structural] = 0.0
    margins = _margins(values, shape, statistic) if additive else {}
    return TableResult(
        statistic=statistic,
        dims=ev.dims,
        keys=ev.keys,
        true_n=ev.n,
        values=values,
        status=status,
        reasons=reasons,
        margins=margins,
        rule_counts=counts,
        lp_checked=lp_checked,
        profile=profile.name,
    )


def _margins(
    values: FloatArray, shape: tuple[int, int] | None, statistic: Statistic
) -> dict[str, FloatArray]:
    """Totals recomputed from released cells (suppressed cells count as nothing)."""
    released = np.nan_to_num(values, nan=0.0)
    if shape is None:
        return {"total": np.array([released.sum()])}
    grid = released.reshape(shape)
    if shape[0] == 1:
        return {"total": np.array([grid.sum()])}
    return {
        "row": grid.sum(axis=1),
        "column": grid.sum(axis=0),
        "total": np.array([grid.sum()]),
    }
