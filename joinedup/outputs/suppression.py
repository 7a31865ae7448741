"""Secondary suppression, and the feasible interval of every suppressed cell.

A table's true margins may be known to an attacker (from a one-way table released elsewhere, or
from the population itself), so a suppressed cell must not be recoverable from its row and column
totals. ``protect`` applies a hypercube-style heuristic (the classic one for two-way tables):

1. every line (row or column, including the single line of a one-way table) that holds exactly
   one suppressed cell gets its smallest unsuppressed cell suppressed too, until no line does;
2. the pattern is then checked by linear programming (``feasible_intervals``: HiGHS through
   ``scipy.optimize.linprog``): the attacker's range for each primary cell, given the true margins,
   every released cell and non-negativity, must be at least ``protection`` wide; a cell that is
   not gets the smallest unsuppressed cell of its row and of its column suppressed, and the loop
   runs again.

Invariants: ``protect`` only adds suppression; after it, every primary cell's feasible interval
is at least ``protection`` wide (checked by LP up to ``LP_CELL_LIMIT`` suppressed cells; above
that only step 1's line condition is guaranteed, and the result says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog

LP_CELL_LIMIT = 400

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtectResult:
    suppressed: BoolArray  # 2-D, primary + secondary
    lp_checked: bool  # False when the table had too many suppressed cells to solve


def _lines(shape: tuple[int, int], one_way: bool) -> list[tuple[npt.NDArray[np.intp], ...]]:
    rows, cols = shape
    lines: list[tuple[npt.NDArray[np.intp], ...]] = []
    for i in range(rows):
        lines.append((np.full(cols, i, dtype=np.intp), np.arange(cols, dtype=np.intp)))
    if not one_way:
        for j in range(cols):
            lines.append((np.arange(rows, dtype=np.intp), np.full(rows, j, dtype=np.intp)))
    return lines


def _suppress_smallest(
    values: FloatArray,
    supp: BoolArray,
    line: tuple[npt.NDArray[np.intp], ...],
    exclude: tuple[int, int] | None = None,
) -> bool:
    cand = [
        (values[i, j], int(i), int(j))
        for i, j in zip(*line, strict=True)
        if not supp[i, j] and (int(i), int(j)) != exclude
    ]
    if not cand:
        return False
    _, i, j = min(cand)
    supp[i, j] = True
    return True


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
    cells = [(int(i), int(j)) for i, j in zip(*np.nonzero(suppressed), strict=True)]
    index = {c: k for k, c in enumerate(cells)}
    a_rows: list[FloatArray] = []
    b: list[float] = []
    for line in _lines((values.shape[0], values.shape[1]), one_way):
        members = [index[(int(i), int(j))] for i, j in zip(*line, strict=True) if suppressed[i, j]]
        if not members:
            continue
        row = np.zeros(len(cells))
        row[members] = 1.0
        a_rows.append(row)
        b.append(float(sum(values[i, j] for i, j in zip(*line, strict=True) if suppressed[i, j])))
    a_eq = np.array(a_rows) if a_rows else None
    b_eq = np.array(b) if b else None
    bounds = [(0.0, upper)] * len(cells)
    result: dict[tuple[int, int], tuple[float, float]] = {}
    for t in targets:
        c = np.zeros(len(cells))
        c[index[t]] = 1.0
        lo = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        hi = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        low = float(lo.fun) if lo.status == 0 else 0.0
        high = float(-hi.fun) if hi.status == 0 else float("inf")
        result[t] = (low, high)
    return result


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
    zeros may not: they are known to everyone)."""
    supp = primary.copy()
    blocked = ~eligible if eligible is not None else np.zeros_like(primary)
    work = np.where(blocked, np.inf, values)
    lines = _lines((values.shape[0], values.shape[1]), one_way)
    lp_checked = True
    for _ in range(4 * values.size + 4):
        changed = False
        for line in lines:
            if int(supp[line].sum()) == 1:
                changed |= _suppress_smallest(work, supp, line)
        if changed:
            continue
        prim = [(int(i), int(j)) for i, j in zip(*np.nonzero(primary), strict=True)]
        if not prim:
            break
        if int(supp.sum()) > LP_CELL_LIMIT:
            lp_checked = False
            break
        intervals = feasible_intervals(values, supp, prim, one_way=one_way)
        weak = [t for t, (lo, hi) in intervals.items() if hi - lo < protection]
        if not weak:
            break
        for i, j in weak:
            row = (np.full(values.shape[1], i, dtype=np.intp), np.arange(values.shape[1]))
            changed |= _suppress_smallest(work, supp, row, exclude=(i, j))
            if not one_way:
                col = (np.arange(values.shape[0]), np.full(values.shape[0], j, dtype=np.intp))
                changed |= _suppress_smallest(work, supp, col, exclude=(i, j))
        if not changed:
            break  # everything eligible is already suppressed
    return ProtectResult(suppressed=supp, lp_checked=lp_checked)
