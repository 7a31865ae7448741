"""An attacker who sees only what was released, and knows how it was made.

The attacker knows the definition of every query it ran (so which people each released cell
counts: ``Cell.members``), the mechanism (threshold, rounding base, largest cell-key noise, that
suppressed cells may be secondary), and the released values as printed in the released CSV files.
It never sees evidence or the ledger. ``recover`` partitions the people into atoms (same cells),
writes every released cell as ``lo <= sum of atoms <= hi`` and solves, by LP, for the narrowest
range of any target group. A small group (1 to threshold - 1 people) pinned to a range narrower
than the rounding base, or exactly when nothing is rounded, is a disclosure.

This is written apart from ``joinedup.outputs.ledger`` on purpose: the attack must not share the
defender's code.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linprog

SUPPRESSED = "[suppressed]"


@dataclass(frozen=True)
class Cell:
    members: frozenset[str]
    lo: float
    hi: float


@dataclass(frozen=True)
class Mechanism:
    threshold: int
    round_base: int
    noise: int = 0  # largest perturbation the attacker must allow for
    secondary: bool = True

    def interval(self, text: str) -> tuple[float, float]:
        if text == SUPPRESSED:
            return (0.0, np.inf if self.secondary else float(self.threshold - 1))
        v = float(text)
        if v == 0:
            return (0.0, 0.0)
        half = self.round_base // 2 if self.round_base > 1 else 0
        return (max(float(self.threshold), v - half - self.noise), v + half + self.noise)


def read_released(path: Path) -> dict[tuple[str, ...], str]:
    """The cells of a released table CSV (label tuple -> printed value); margins skipped."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return {tuple(r[:-1]): r[-1] for r in rows[1:] if not r[0].startswith("[")}


def cells_from_release(
    path: Path,
    membership: dict[tuple[str, ...], frozenset[str]],
    mech: Mechanism,
) -> list[Cell]:
    """Released cells joined to the attacker's own knowledge of who each cell counts."""
    out = []
    for labels, text in read_released(path).items():
        lo, hi = mech.interval(text)
        out.append(Cell(members=membership.get(labels, frozenset()), lo=lo, hi=hi))
    return out


def narrowest(cells: list[Cell], target: frozenset[str]) -> tuple[float, float]:
    """The attacker's range for the number of people of ``target`` (a set of ids), given cells.

    Atoms are the groups of people sharing exactly the same released cells; the target must be a
    union of atoms restricted to it (people of the target in one atom are the target's part).
    """
    everyone = set().union(*(c.members for c in cells)) | set(target)
    signature: dict[str, tuple[int, ...]] = {
        p: tuple(k for k, c in enumerate(cells) if p in c.members) + ((-1,) if p in target else ())
        for p in everyone
    }
    atoms: dict[tuple[int, ...], int] = {}
    for sig in signature.values():
        atoms[sig] = atoms.get(sig, 0) + 1
    keys = list(atoms)
    a_ub, b_ub = [], []
    for k, c in enumerate(cells):
        row = np.array([1.0 if k in sig else 0.0 for sig in keys])
        if np.isfinite(c.hi):
            a_ub.append(row)
            b_ub.append(c.hi)
        a_ub.append(-row)
        b_ub.append(-c.lo)
    obj = np.array([1.0 if -1 in sig else 0.0 for sig in keys])
    lo = linprog(obj, A_ub=np.array(a_ub), b_ub=np.array(b_ub), bounds=(0, None), method="highs")
    hi = linprog(-obj, A_ub=np.array(a_ub), b_ub=np.array(b_ub), bounds=(0, None), method="highs")
    low = float(np.ceil(lo.fun - 1e-6)) if lo.status == 0 else 0.0
    high = float(np.floor(-hi.fun + 1e-6)) if hi.status == 0 else np.inf
    return low, high


def small_groups(cells: list[Cell], threshold: int) -> list[frozenset[str]]:
    """Every atom of the released cells holding 1 to threshold - 1 people (the targets)."""
    everyone = set().union(*(c.members for c in cells))
    groups: dict[tuple[int, ...], set[str]] = {}
    for p in everyone:
        sig = tuple(k for k, c in enumerate(cells) if p in c.members)
        groups.setdefault(sig, set()).add(p)
    return [frozenset(g) for g in groups.values() if 1 <= real_size(frozenset(g)) < threshold]


def real_size(group: frozenset[str]) -> int:
    """People in a group, not counting the attacker's phantoms (ids starting ``~``)."""
    return sum(1 for p in group if not p.startswith("~"))


def disclosed(
    cells: list[Cell], targets: list[frozenset[str]], width: int
) -> list[tuple[int, float, float]]:
    """Targets pinned narrower than ``width`` (true size, low, high)."""
    found = []
    for t in targets:
        size = real_size(t)
        if size < 1:
            continue
        lo, hi = narrowest(cells, t)
        if hi - lo < width and lo <= size <= hi:
            found.append((size, lo, hi))
    return found
