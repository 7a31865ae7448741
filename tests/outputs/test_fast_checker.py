"""The checker against the reference it replaced (``reference_check.py``) on many seeded random
tables: one-, two- and three-way, counts and sums, several thresholds and profiles, structural
zeros. The checker must decide every cell as the reference does. On tables small enough, an
attacker's exact range for every primary cell is also computed here, by a linear programme
written independently of ``joinedup.outputs.suppression``: it must be at least the protection
wide (or the cell's whole row or column total, when that is smaller)."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt
import pytest
from scipy.optimize import linprog

from joinedup.outputs import Statistic, check_table, get_profile
from joinedup.outputs.check import CellStatus, TableResult
from joinedup.outputs.evidence import TableEvidence, evidence_from_arrays
from joinedup.outputs.profiles import RuleProfile
from tests.outputs.reference_check import reference_check_table

SMALL = [0, 0, 1, 2, 3, 5, 7, 9, 10, 11, 12, 15, 20, 30, 50, 80, 150, 400]


def _evidence(rng: np.random.Generator, shape: tuple[int, ...], dense: bool) -> TableEvidence:
    size = int(np.prod(shape))
    if dense:  # mostly safe cells, a few small ones (the benchmark's shape)
        n = rng.choice(SMALL[8:], size=size)
        small = rng.random(size) < rng.uniform(0.02, 0.15)
        n[small] = rng.choice(SMALL[:8], size=int(small.sum()))
    else:  # many small cells: long chains of suppression, the LP fallback
        n = rng.choice(SMALL, size=size)
    labels = [
        np.array([f"d{d}_{i:03d}" for i in range(s)], dtype=object) for d, s in enumerate(shape)
    ]
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    keys = tuple(labels[d][grids[d].reshape(-1)] for d in range(len(shape)))
    total = n * rng.uniform(0.5, 30.0, size=size)
    top1 = np.minimum(total, rng.uniform(1, 40, size=size))
    top2 = np.minimum(total - top1, rng.uniform(0, 20, size=size))
    negatives = (rng.random(size) < 0.01).astype(np.int64)
    return evidence_from_arrays(
        dims=tuple(f"d{d}" for d in range(len(shape))),
        keys=keys,
        n=n.astype(np.int64),
        total=total,
        top1=top1,
        top2=np.maximum(top2, 0.0),
        negatives=negatives,
    )


def _profile(rng: np.random.Generator) -> RuleProfile:
    base = get_profile(str(rng.choice(["joinedup", "joinedup", "opensafely", "acro"])))
    return dataclasses.replace(
        base,
        threshold=int(rng.choice([3, 5, 8, 10, 10, 15])),
        round_base=int(rng.choice([1, 5, 5, 10])),
    )


def _structural(rng: np.random.Generator, ev: TableEvidence) -> frozenset[tuple[str, ...]]:
    zeros = np.nonzero(ev.n == 0)[0]
    chosen = zeros[rng.random(zeros.size) < 0.3]
    return frozenset(ev.labels(int(i)) for i in chosen)


def _same(new: TableResult, ref: TableResult) -> None:
    assert list(new.status) == list(ref.status)
    assert new.reasons == ref.reasons
    assert new.rule_counts == ref.rule_counts
    assert new.lp_checked == ref.lp_checked
    np.testing.assert_array_equal(new.values, ref.values)  # NaN where suppressed, in both
    assert new.margins.keys() == ref.margins.keys()
    for k in new.margins:
        np.testing.assert_array_equal(new.margins[k], ref.margins[k])


def _attacker_range(
    values: npt.NDArray[np.float64],
    hidden: npt.NDArray[np.bool_],
    target: tuple[int, int],
    one_way: bool,
) -> float:
    """Width of the range an attacker who knows every true line total and every released cell
    can give the target cell: min and max of it over non-negative hidden cells, by LP."""
    cells = [(int(i), int(j)) for i, j in np.argwhere(hidden)]
    col = {c: k for k, c in enumerate(cells)}
    rows_eq: list[list[float]] = []
    rhs: list[float] = []
    lines = [("r", i) for i in range(values.shape[0])]
    if not one_way:
        lines += [("c", j) for j in range(values.shape[1])]
    for kind, idx in lines:
        members = [c for c in cells if (c[0] if kind == "r" else c[1]) == idx]
        if not members:
            continue
        row = [0.0] * len(cells)
        for c in members:
            row[col[c]] = 1.0
        rows_eq.append(row)
        rhs.append(float(sum(values[c] for c in members)))
    objective = np.zeros(len(cells))
    objective[col[target]] = 1.0
    low = linprog(objective, A_eq=rows_eq, b_eq=rhs, bounds=(0, None), method="highs")
    high = linprog(-objective, A_eq=rows_eq, b_eq=rhs, bounds=(0, None), method="highs")
    assert low.status == 0
    if high.status == 3:  # unbounded: nothing pins it
        return float("inf")
    assert high.status == 0
    return float(-high.fun - low.fun)


def _assert_protected(
    ev: TableEvidence, result: TableResult, statistic: Statistic, protection: float
) -> None:
    shape = (1, ev.size) if len(ev.dims) == 1 else None
    if len(ev.dims) == 2:
        r = len(set(ev.keys[0]))
        shape = (r, ev.size // r)
    assert shape is not None
    values = (ev.n.astype(float) if statistic is Statistic.COUNT else np.abs(ev.total)).reshape(
        shape
    )
    hidden = np.asarray(
        (result.status == CellStatus.PRIMARY) | (result.status == CellStatus.SECONDARY)
    ).reshape(shape)
    primary = np.asarray(result.status == CellStatus.PRIMARY).reshape(shape)
    eligible = np.asarray(result.status != CellStatus.STRUCTURAL_ZERO).reshape(shape)
    if hidden.sum() == eligible.sum():
        return  # everything that can be hidden is: the margins alone bound the cells
    for i, j in np.argwhere(primary):
        need = min(protection, values[i].sum())  # no cell hides in more than its line's total
        if len(ev.dims) == 2:
            need = min(need, values[:, j].sum())
        width = _attacker_range(values, hidden, (int(i), int(j)), len(ev.dims) == 1)
        assert width >= need - 1e-6, ((int(i), int(j)), width, need)


CASES = [
    # (seed, shape, dense)
    *[(s, ((3, 5, 8, 12, 20)[s % 5],), False) for s in range(40)],
    *[(s, (2 + s % 6, 2 + (s * 7) % 9), False) for s in range(40, 160)],
    *[(s, (5 + s % 11, 4 + (s * 3) % 13), True) for s in range(160, 220)],
    *[(s, (2 + s % 3, 2 + s % 4, 2 + s % 2), False) for s in range(220, 250)],
    # more than 16 rows and columns: the bounded rectangle search (smaller tables search all)
    *[(s, (17 + s % 24, 17 + (s * 5) % 24), s % 4 != 0) for s in range(250, 290)],
]


@pytest.mark.parametrize("seed,shape,dense", CASES)
def test_checker_decides_every_cell_as_the_reference(
    seed: int, shape: tuple[int, ...], dense: bool
) -> None:
    rng = np.random.default_rng(seed)
    ev = _evidence(rng, shape, dense)
    profile = _profile(rng)
    structural = _structural(rng, ev) if seed % 3 == 0 else frozenset()
    for statistic in (Statistic.COUNT, Statistic.SUM, Statistic.MEAN):
        new = check_table(ev, profile, statistic=statistic, structural_zeros=structural)
        ref = reference_check_table(ev, profile, statistic=statistic, structural_zeros=structural)
        _same(new, ref)
        secondary_applies = (
            profile.secondary and statistic is not Statistic.MEAN and len(shape) <= 2
        )
        if secondary_applies and new.lp_checked and ev.size <= 150:
            _assert_protected(ev, new, statistic, float(profile.threshold))


@pytest.mark.parametrize("seed", range(3))
def test_checker_matches_the_reference_on_benchmark_sized_tables(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    ev = _evidence(rng, (100, 100), dense=True)
    profile = get_profile("joinedup")
    for statistic in (Statistic.COUNT, Statistic.SUM):
        _same(
            check_table(ev, profile, statistic=statistic),
            reference_check_table(ev, profile, statistic=statistic),
        )
