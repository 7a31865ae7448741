"""Sequential CART synthesis (the synthpop method) on scikit-learn decision trees.

A frame is synthesised one *step* at a time. Each step fits a decision tree on the real rows,
predicting its key column from the columns synthesised before it (the predictors), drops every
synthetic row down that tree, and gives it the values of a real **donor** row drawn at random
from the same leaf (Reiter 2005; Nowok, Raab and Dibben 2016). A step may copy a *block* of
columns from the donor (for example all the scores of one assessment, so a flag that is a rule
over the scores stays true), and may be **stratified**: donors are then drawn only among real
rows with the same value of the stratum column (so a school-year field is always drawn from
children of the synthetic child's own birth cohort), or the same values of several columns.

Donors are drawn **balanced** within a leaf: the synthetic rows that reach a leaf take its real
rows in a random order, cycling through them, so a leaf of ``c`` real rows and ``m`` synthetic
ones gives every real row ``floor(m / c)`` or ``ceil(m / c)`` of them. Independent draws (as
synthpop makes) would leave the leaf's mix of values to chance: a subgroup's prevalence in the
twin would then differ from the real one by sampling noise on top of any error of the trees.

Invariants:
- values are only ever drawn from real rows of the same leaf (and stratum), never invented, so
  every category and every range stays valid; a leaf holds at least ``min_leaf`` real rows, so
  no synthetic value is tied to fewer than ``min_leaf`` real children by the tree;
- missing values are data: a donor's NULL is copied like any value;
- a tree is fitted on at most ``max_fit_rows`` real rows (a random subset when there are more,
  which bounds the fitting time on large districts) and every real row is then dropped down it
  for the donors: a leaf holding ``min_leaf`` fitted rows holds at least as many real rows;
- the same seed, data and steps give the same output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

Condition = Callable[[pd.DataFrame], "pd.Series[bool]"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CartStep:
    """One synthesis step: ``block`` columns copied from a donor found through ``key``'s tree.

    ``key`` defaults to the first column of ``block``. ``predictors`` are columns already present
    in the synthetic frame (``None``: every column synthesised so far). ``strata``: a column
    (or columns) already present; donors share its value (their values). ``when``: the step
    applies only to rows where it is true (in the real rows and the synthetic ones); other rows
    get NULL.
    """

    block: tuple[str, ...]
    key: str | None = None
    predictors: tuple[str, ...] | None = None
    strata: str | tuple[str, ...] | None = None
    when: Condition | None = None
    categorical: bool | None = None  # None: inferred from the key's dtype
    orphans_from_all: bool = True  # a stratum no real row holds: draw from all (else NULL)


@dataclass(slots=True)
class Encoder:
    """Turns mixed columns into a float matrix a tree can split (categories as frequency ranks,
    NULL as NaN, which scikit-learn's trees route as a value of its own)."""

    codes: dict[str, dict[object, int]] = field(default_factory=dict)

    def column(self, name: str, values: pd.Series) -> np.ndarray:
        if _is_numeric(values):
            return values.astype("float64").to_numpy(na_value=np.nan)
        if name not in self.codes:
            counts = values.dropna().astype(str).value_counts()
            self.codes[name] = {v: i for i, v in enumerate(sorted(counts.index, key=str))}
        mapping = self.codes[name]
        as_text = values.astype("string")
        out = as_text.map(mapping).astype("float64").to_numpy(na_value=np.nan)
        return out

    def matrix(self, frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
        if not columns:
            return np.zeros((len(frame), 0))
        return np.column_stack([self.column(c, frame[c]) for c in columns])


def _strata_key(frame: pd.DataFrame, strata: str | tuple[str, ...]) -> np.ndarray:
    """One text key per row: the stratum column's value, or the columns' values joined."""
    columns = (strata,) if isinstance(strata, str) else strata
    parts = [frame[c].astype("string").fillna("<NA>") for c in columns]
    key = parts[0]
    for part in parts[1:]:
        key = key + "\x1f" + part
    return key.to_numpy()


def _is_numeric(values: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(values)) and not pd.api.types.is_bool_dtype(values)


def _draw_from_leaves(
    real_leaves: np.ndarray, synth_leaves: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """For each synthetic row, the index of a real row in the same leaf, balanced: the
    synthetic rows of a leaf (in random order) take the leaf's real rows (in random order) in
    turn, cycling when there are more synthetic rows than real ones."""
    # real rows by leaf, in random order within a leaf; the synthetic rows likewise
    order = np.lexsort((rng.random(len(real_leaves)), real_leaves))
    sorted_leaves = real_leaves[order]
    s_order = np.lexsort((rng.random(len(synth_leaves)), synth_leaves))
    s_sorted = synth_leaves[s_order]
    start = np.searchsorted(sorted_leaves, s_sorted, side="left")
    stop = np.searchsorted(sorted_leaves, s_sorted, side="right")
    # a synthetic row can only reach a leaf that holds real rows (the tree was fit on them)
    count = np.maximum(stop - start, 1)
    rank = np.arange(len(s_sorted)) - np.searchsorted(s_sorted, s_sorted, side="left")
    pick = np.minimum(start + rank % count, len(order) - 1)
    out = np.empty(len(synth_leaves), dtype=np.int64)
    out[s_order] = order[pick]
    return out


def _balanced(n_real: int, n_synth: int, rng: np.random.Generator) -> np.ndarray:
    """Donor positions for ``n_synth`` rows among ``n_real`` (one leaf holding them all)."""
    return _draw_from_leaves(
        np.zeros(n_real, dtype=np.int64), np.zeros(n_synth, dtype=np.int64), rng
    )


@dataclass(slots=True)
class CartSynthesiser:
    """Runs ``CartStep``s over a real frame to fill a synthetic frame."""

    min_leaf: int = 10
    seed: int = 0
    max_fit_rows: int = 200_000
    encoder: Encoder = field(default_factory=Encoder)

    def run(
        self, real: pd.DataFrame, synth: pd.DataFrame, steps: Sequence[CartStep]
    ) -> pd.DataFrame:
        """Fill ``synth`` (which already holds any context columns) step by step."""
        rng = np.random.default_rng(self.seed)
        done: list[str] = [c for c in synth.columns if c in real.columns]
        synth = synth.copy()
        for step in steps:
            self._step(real, synth, step, done, rng)
            done.extend(c for c in step.block if c not in done)
        return synth

    def _step(
        self,
        real: pd.DataFrame,
        synth: pd.DataFrame,
        step: CartStep,
        done: list[str],
        rng: np.random.Generator,
    ) -> None:
        for col in step.block:
            if _is_numeric(real[col]):
                synth[col] = np.full(len(synth), np.nan)
            else:
                synth[col] = pd.Series([None] * len(synth), index=synth.index, dtype="object")
        real_rows = np.ones(len(real), dtype=bool)
        synth_rows = np.ones(len(synth), dtype=bool)
        if step.when is not None:
            real_rows = step.when(real).fillna(False).to_numpy(dtype=bool)
            synth_rows = step.when(synth).fillna(False).to_numpy(dtype=bool)
        if not real_rows.any() or not synth_rows.any():
            return
        predictors = [c for c in (step.predictors or done) if c not in step.block]
        if step.strata is None:
            groups = [(np.flatnonzero(real_rows), np.flatnonzero(synth_rows))]
        else:
            groups = self._strata_groups(
                real, synth, step.strata, real_rows, synth_rows, step.orphans_from_all
            )
        donors = np.full(len(synth), -1, dtype=np.int64)
        for r_idx, s_idx in groups:
            if len(s_idx) == 0 or len(r_idx) == 0:
                continue
            donors[s_idx] = r_idx[self._donors(real, synth, step, predictors, r_idx, s_idx, rng)]
        filled = donors >= 0
        if not filled.any():
            return
        for col in step.block:
            column = synth[col].to_numpy(copy=True)
            column[filled] = real[col].to_numpy()[donors[filled]]
            synth[col] = column

    def _strata_groups(
        self,
        real: pd.DataFrame,
        synth: pd.DataFrame,
        strata: str | tuple[str, ...],
        real_rows: np.ndarray,
        synth_rows: np.ndarray,
        orphans_from_all: bool,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Positions of the real and the synthetic rows of each stratum (in stratum order,
        rows in frame order), from one sort of each side: a mask per stratum would take
        strata x rows memory (2,576 areas x 1.9M rows is 4.9 GB)."""
        r_pos = np.flatnonzero(real_rows)
        s_pos = np.flatnonzero(synth_rows)
        r_key = _strata_key(real, strata)[r_pos]
        s_key = _strata_key(synth, strata)[s_pos]
        known = np.unique(r_key)
        r_order = np.argsort(r_key, kind="stable")
        s_order = np.argsort(s_key, kind="stable")
        r_sorted, s_sorted = r_key[r_order], s_key[s_order]
        r_lo = np.searchsorted(r_sorted, known, side="left")
        r_hi = np.searchsorted(r_sorted, known, side="right")
        s_lo = np.searchsorted(s_sorted, known, side="left")
        s_hi = np.searchsorted(s_sorted, known, side="right")
        groups = [
            (r_pos[r_order[r_lo[i] : r_hi[i]]], s_pos[s_order[s_lo[i] : s_hi[i]]])
            for i in range(len(known))
        ]
        # a stratum no real row holds draws from all real rows of the step, or stays NULL
        orphan = s_pos[~np.isin(s_key, known)]
        if len(orphan) and orphans_from_all:
            groups.append((r_pos, orphan))
        return groups

    def _donors(
        self,
        real: pd.DataFrame,
        synth: pd.DataFrame,
        step: CartStep,
        predictors: list[str],
        r_idx: np.ndarray,
        s_idx: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Positions in ``r_idx`` of one donor per row of ``s_idx``."""
        if not predictors or len(r_idx) < 2 * self.min_leaf:
            return _balanced(len(r_idx), len(s_idx), rng)
        key = step.key or step.block[0]
        real_sub = real.iloc[r_idx]
        x_real = self.encoder.matrix(real_sub, predictors)
        x_synth = self.encoder.matrix(synth.iloc[s_idx], predictors)
        y = real_sub[key]
        fit = (
            slice(None)
            if len(r_idx) <= self.max_fit_rows
            else np.sort(rng.choice(len(r_idx), self.max_fit_rows, replace=False))
        )
        categorical = step.categorical if step.categorical is not None else not _is_numeric(y)
        tree: DecisionTreeClassifier | DecisionTreeRegressor
        if categorical:
            target = y.astype("string").fillna("<NA>").to_numpy()
            if len(set(target)) == 1:
                return _balanced(len(r_idx), len(s_idx), rng)
            tree = DecisionTreeClassifier(
                min_samples_leaf=self.min_leaf, random_state=int(rng.integers(2**31))
            )
            tree.fit(x_real[fit], target[fit])
        else:
            values = y.astype("float64").to_numpy(na_value=np.nan)
            missing = np.isnan(values)
            if missing.all():
                return _balanced(len(r_idx), len(s_idx), rng)
            low, high = np.nanmin(values), np.nanmax(values)
            # NULL is a value of its own: put it below the range so the tree can split it off
            target_num = np.where(missing, low - (high - low + 1.0), values)
            tree = DecisionTreeRegressor(
                min_samples_leaf=self.min_leaf, random_state=int(rng.integers(2**31))
            )
            tree.fit(x_real[fit], target_num[fit])
        return _draw_from_leaves(tree.apply(x_real), tree.apply(x_synth), rng)
