"""The rule engine: evidence in, a checked and mitigated table out.

``check_table(evidence, profile, statistic=...)`` applies, vectorised over the cells:

1. primary rules: ``threshold`` (n below the profile's threshold), ``zero`` (a zero cell, unless
   declared structural), ``class`` (a zero beside a single non-zero cell in a row of a two-way
   table: everyone in the row shares one category), and for magnitude statistics ``nk`` (top n
   contributors hold at least k of the total), ``p_percent`` and ``negative`` (dominance cannot be
   judged where values are negative);
2. secondary suppression (``suppression.protect``) so no primary cell can be recovered from true
   margins;
3. rounding: counts to the profile's base, rates by midpoint 6; margins are then recomputed from
   the released cells (never from the data).

``extremes`` (min / max) are refused outright under profiles that block them.

Invariants: a cell failing any primary rule is never released; suppression happens before
rounding; released margins are sums of released cells; the checker never reads rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from itertools import product

import numpy as np
import numpy.typing as npt

from joinedup.errors import DisclosureBlocked, UsageError
from joinedup.outputs.evidence import FloatArray, IntArray, ObjArray, TableEvidence
from joinedup.outputs.profiles import RuleProfile
from joinedup.outputs.suppression import protect


class Statistic(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MEAN = "mean"
    MEDIAN = "median"
    MIN = "min"
    MAX = "max"


MAGNITUDE = frozenset({Statistic.SUM, Statistic.MEAN, Statistic.MEDIAN})
EXTREMES = frozenset({Statistic.MIN, Statistic.MAX})


class CellStatus(StrEnum):
    RELEASED = "released"
    PRIMARY = "suppressed"
    SECONDARY = "secondary"
    STRUCTURAL_ZERO = "structural_zero"


@dataclass(frozen=True, slots=True, kw_only=True)
class TableResult:
    statistic: Statistic
    dims: tuple[str, ...]
    keys: tuple[ObjArray, ...]
    true_n: IntArray  # evidence, kept inside the node (the ledger needs it)
    values: FloatArray  # released values; NaN where suppressed
    status: ObjArray  # CellStatus per cell
    reasons: list[tuple[str, ...]]  # failing primary rules per cell
    margins: dict[str, FloatArray] = field(default_factory=dict)
    rule_counts: dict[str, int] = field(default_factory=dict)
    lp_checked: bool = True
    profile: str = "joinedup"

    @property
    def released(self) -> npt.NDArray[np.bool_]:
        return np.asarray(
            (self.status == CellStatus.RELEASED) | (self.status == CellStatus.STRUCTURAL_ZERO)
        )

    @property
    def size(self) -> int:
        return int(self.values.shape[0])

    def labels(self, i: int) -> tuple[str, ...]:
        return tuple(str(k[i]) for k in self.keys)


def round_to_base(x: FloatArray, base: int) -> FloatArray:
    if base <= 1:
        return np.round(x)
    return np.floor(x / base + 0.5) * base


def midpoint6(x: FloatArray) -> FloatArray:
    """0 -> 0, 1-6 -> 3, 7-12 -> 9, ... (OpenSAFELY's unbiased rounding; zero stays zero)."""
    return np.where(x <= 0, 0.0, np.ceil(x / 6.0) * 6.0 - 3.0)


def complete_grid(
    evidence: TableEvidence, levels: dict[str, list[str]] | None = None
) -> TableEvidence:
    """The evidence on the full cross of each dimension's levels: absent cells are zeros."""
    if not evidence.dims:
        return evidence
    levels = levels or {}
    dim_levels = [
        levels.get(d) or sorted({str(v) for v in k})
        for d, k in zip(evidence.dims, evidence.keys, strict=True)
    ]
    grid = list(product(*dim_levels))
    where = {evidence.labels(i): i for i in range(evidence.size)}
    missing_labels = set(where) - set(grid)
    if missing_labels:
        raise UsageError(f"{len(missing_labels)} cells have levels outside the declared levels")
    idx = np.array([where.get(g, -1) for g in grid], dtype=np.int64)
    have = idx >= 0

    def take_i(a: IntArray) -> IntArray:
        out = np.zeros(len(grid), dtype=np.int64)
        out[have] = a[idx[have]]
        return out

    def take_f(a: FloatArray) -> FloatArray:
        out = np.zeros(len(grid), dtype=np.float64)
        out[have] = a[idx[have]]
        return out

    pop = np.array([""] * len(grid), dtype=object)
    pop[have] = evidence.population_hash[idx[have]]
    keys = tuple(np.array([g[d] for g in grid], dtype=object) for d in range(len(evidence.dims)))
    return TableEvidence(
        dims=evidence.dims,
        keys=keys,
        n=take_i(evidence.n),
        rows=take_i(evidence.rows),
        total=take_f(evidence.total),
        top1=take_f(evidence.top1),
        top2=take_f(evidence.top2),
        negatives=take_i(evidence.negatives),
        missing=take_i(evidence.missing),
        distinct=take_i(evidence.distinct),
        minimum=take_f(evidence.minimum),
        maximum=take_f(evidence.maximum),
        median=take_f(evidence.median),
        population_hash=pop,
        has_value=evidence.has_value,
    )


def _primary(
    ev: TableEvidence,
    profile: RuleProfile,
    statistic: Statistic,
    structural: npt.NDArray[np.bool_],
    shape: tuple[int, int] | None,
) -> tuple[npt.NDArray[np.bool_], list[tuple[str, ...]], dict[str, int]]:
    n = ev.n
    fails: dict[str, npt.NDArray[np.bool_]] = {}
    fails["threshold"] = (n > 0) & (n < profile.threshold)
    if profile.zeros_disclosive:
        fails["zero"] = (n == 0) & ~structural
    if len(ev.dims) == 2 and statistic is Statistic.COUNT:
        rows = _row_index(ev, shape)
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


def _row_index(ev: TableEvidence, shape: tuple[int, int] | None) -> IntArray:
    """Each cell's row (cells sharing a first-dimension label share a row)."""
    if shape is not None:
        grid = ev.keys[0].reshape(shape)
        # a row-major grid (what ``complete_grid`` builds): each row holds one label, and as
        # there are as many labels as rows, a different one
        if bool((grid == grid[:, :1]).all()):
            return np.repeat(np.arange(shape[0], dtype=np.int64), shape[1])
    _, inv = np.unique(ev.keys[0].astype(str), return_inverse=True)
    return np.asarray(inv, dtype=np.int64)


def _distinct(labels: ObjArray) -> int:
    return len(set(map(str, labels.tolist())))


def _shape(ev: TableEvidence) -> tuple[int, int] | None:
    """(rows, cols) when the cells form a full, row-major grid of one or two dimensions."""
    if len(ev.dims) == 1:
        return (1, ev.size)
    if len(ev.dims) == 2:
        r = _distinct(ev.keys[0])
        c = _distinct(ev.keys[1])
        if r * c == ev.size:
            return (r, c)
    return None


_STATUSES = np.array(
    [
        CellStatus.RELEASED.value,
        CellStatus.STRUCTURAL_ZERO.value,
        CellStatus.SECONDARY.value,
        CellStatus.PRIMARY.value,
    ],
    dtype=object,
)


def check_table(
    evidence: TableEvidence,
    profile: RuleProfile,
    *,
    statistic: Statistic = Statistic.COUNT,
    structural_zeros: frozenset[tuple[str, ...]] = frozenset(),
) -> TableResult:
    """Check and mitigate one table (see the module docstring)."""
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
    shape = _shape(ev)
    primary, reasons, counts = _primary(ev, profile, statistic, structural, shape)
    suppressed = primary.copy()
    lp_checked = True
    additive = statistic in (Statistic.COUNT, Statistic.SUM)
    if profile.secondary and additive and shape is not None and bool(primary.any()):
        base = ev.n.astype(np.float64) if statistic is Statistic.COUNT else np.abs(ev.total)
        res = protect(
            base.reshape(shape),
            primary.reshape(shape),
            protection=float(profile.threshold),
            one_way=len(ev.dims) == 1,
            eligible=~structural.reshape(shape),
        )
        suppressed = res.suppressed.reshape(-1)
        lp_checked = res.lp_checked
    code = np.zeros(ev.size, dtype=np.int8)  # index into _STATUSES
    code[structural] = 1
    code[suppressed & ~primary] = 2
    code[primary] = 3
    status = _STATUSES[code]
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
