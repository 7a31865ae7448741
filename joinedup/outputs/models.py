"""Regression outputs: fitted inside the node, released only when the model cannot reveal a child.

Checks (profile numbers): residual degrees of freedom >= ``min_residual_dof``; parameters <=
``max_param_share`` x n (DataSHIELD's 0.33); every level of every categorical covariate holds >=
``level_threshold`` people and, for a logistic model, every level x outcome cell too (this stops
the single-child dummy, perfect separation and the saturated model, whose coefficients are cell
means); the outcome's classes each >= threshold. Residuals, fitted values and leverage are never
released. The model's population goes to the ledger as one magnitude cell, so two models over
populations a few children apart are refused (their sufficient statistics differ by those
children's values).

OLS is solved by least squares, logistic regression by iteratively reweighted least squares
(numpy); standard errors from the usual covariance.
"""

# SQL here is built from quoted identifiers (``quote``) and fixed table names; values are
# always bound parameters; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import duckdb
import numpy as np

from joinedup.errors import UsageError
from joinedup.outputs.evidence import query_on, quote
from joinedup.outputs.profiles import RuleProfile

FEW_VALUES = 10  # a numeric covariate with at most this many values is checked per value


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelFit:
    family: str
    n: int
    params: int
    residual_dof: int
    coefficients: dict[str, tuple[float, float]]  # term -> (estimate, standard error)
    failures: list[str]
    population: duckdb.DuckDBPyRelation
    level_counts: dict[str, int] = field(default_factory=dict)

    def n_rounded(self, base: int) -> int:
        return int(np.floor(self.n / base + 0.5) * base) if base > 1 else self.n

    def to_csv(self, base: int) -> str:
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["term", "estimate", "std_error"])
        for term, (est, se) in self.coefficients.items():
            w.writerow([term, f"{est:.4g}", f"{se:.4g}"])
        w.writerow(["[n, rounded]", self.n_rounded(base), ""])
        w.writerow(["[parameters]", self.params, ""])
        return out.getvalue()


def check_and_fit(
    con: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    *,
    outcome: str,
    covariates: list[str],
    categorical: list[str],
    family: str,
    profile: RuleProfile,
    person: str,
) -> ModelFit:
    if family not in ("ols", "logit"):
        raise UsageError(f"unknown model family {family!r}; use ols or logit")
    cols = [outcome, *covariates, *categorical]
    for c in [*cols, person]:
        if c not in relation.columns:
            raise UsageError(f"column {c!r} is not in the data")
    complete = " AND ".join(f"{quote(c)} IS NOT NULL" for c in cols)
    population = query_on(relation, f"SELECT * FROM src WHERE {complete}")
    failures: list[str] = []
    level_counts: dict[str, int] = {}
    for cat in categorical:
        if family == "logit":
            rows = query_on(
                population,
                f"SELECT CAST({quote(cat)} AS VARCHAR), CAST({quote(outcome)} AS VARCHAR), "
                "count(*) "
                f"FROM src GROUP BY ALL",
            ).fetchall()
            level_set = {str(r[0]) for r in rows}
            outcome_set = {str(r[1]) for r in rows}
            got = {(str(r[0]), str(r[1])): int(r[2]) for r in rows}
            for lv in level_set:
                for oc in outcome_set:
                    cnt = got.get((lv, oc), 0)
                    level_counts[f"{cat}={lv}|{outcome}={oc}"] = cnt
        else:
            for lv, cnt in query_on(
                population, f"SELECT CAST({quote(cat)} AS VARCHAR), count(*) FROM src GROUP BY ALL"
            ).fetchall():
                level_counts[f"{cat}={lv}"] = int(cnt)
    for cov in covariates:
        # a numeric covariate with few values is a category in disguise (a 0/1 dummy for one
        # child is the classic attack), so its values are checked like levels
        held = query_on(
            population,
            f"SELECT CAST({quote(cov)} AS VARCHAR), count(*) FROM src GROUP BY ALL",
        ).fetchall()
        if len(held) <= FEW_VALUES:
            for lv, cnt in held:
                level_counts[f"{cov}={lv}"] = int(cnt)
    if profile.level_threshold is not None:
        small = [k for k, v in level_counts.items() if v < profile.level_threshold]
        if small:
            failures.append(
                f"level cells: {len(small)} categorical level (x outcome) cell(s) below "
                f"{profile.level_threshold}: {', '.join(sorted(small)[:5])}"
            )
    if family == "logit":
        for oc, cnt in query_on(
            population, f"SELECT CAST({quote(outcome)} AS VARCHAR), count(*) FROM src GROUP BY ALL"
        ).fetchall():
            if int(cnt) < profile.threshold:
                failures.append(
                    f"outcome class {outcome}={oc} has fewer than {profile.threshold} people"
                )
    data = (
        query_on(
            population,
            "SELECT "
            + ", ".join(
                f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}"
                for c in [*categorical, outcome, *covariates]
            )
            + " FROM src",
        ).fetchnumpy()
        if cols
        else {}
    )
    n = int(query_on(population, "SELECT count(*) FROM src").fetchone()[0])  # type: ignore[index]
    names = ["(intercept)"]
    columns = [np.ones(n)]
    for c in covariates:
        columns.append(np.asarray(data[c]).astype(np.float64))
        names.append(c)
    for cat in categorical:
        values = np.asarray(data[cat]).astype(str)
        levels = sorted(set(values.tolist()))
        for lv in levels[1:]:
            columns.append((values == lv).astype(np.float64))
            names.append(f"{cat}[{lv}]")
    x = np.column_stack(columns) if n else np.zeros((0, len(columns)))
    y = np.asarray(data[outcome]).astype(np.float64) if n else np.zeros(0)
    params = x.shape[1]
    dof = n - params
    if dof < profile.min_residual_dof:
        failures.append(f"residual degrees of freedom {dof} < {profile.min_residual_dof}")
    if profile.max_param_share is not None and params > profile.max_param_share * n:
        failures.append(
            f"{params} parameters exceed {profile.max_param_share:g} x n (saturated model)"
        )
    coefficients: dict[str, tuple[float, float]] = {}
    if not failures:
        est, se, ok = _fit(x, y, family)
        if not ok:
            failures.append("the model did not converge (perfect separation?)")
        else:
            coefficients = {
                nm: (float(e), float(s)) for nm, e, s in zip(names, est, se, strict=True)
            }
    return ModelFit(
        family=family,
        n=n,
        params=params,
        residual_dof=dof,
        coefficients=coefficients,
        failures=failures,
        population=population,
        level_counts=level_counts,
    )


def _level_counts(relation: duckdb.DuckDBPyRelation, column: str) -> list[tuple[object, int]]:
    rows = query_on(
        relation, f"SELECT CAST({quote(column)} AS VARCHAR), count(*) FROM src GROUP BY ALL"
    ).fetchall()
    return [(r[0], int(r[1])) for r in rows]


def _fit(x: np.ndarray, y: np.ndarray, family: str) -> tuple[np.ndarray, np.ndarray, bool]:
    n, p = x.shape
    if family == "ols":
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
        resid = y - x @ beta
        sigma2 = float(resid @ resid) / max(n - p, 1)
        cov = sigma2 * np.linalg.pinv(x.T @ x)
        return beta, np.sqrt(np.maximum(np.diag(cov), 0)), True
    beta = np.zeros(p)
    for _ in range(50):
        eta = np.clip(x @ beta, -30, 30)
        mu = 1 / (1 + np.exp(-eta))
        w = np.maximum(mu * (1 - mu), 1e-10)
        z = eta + (y - mu) / w
        xtw = x.T * w
        new = np.linalg.solve(xtw @ x + 1e-9 * np.eye(p), xtw @ z)
        if np.max(np.abs(new - beta)) < 1e-8:
            beta = new
            break
        beta = new
    ok = bool(np.all(np.abs(beta) < 15))
    eta = x @ beta
    mu = 1 / (1 + np.exp(-eta))
    w = mu * (1 - mu)
    cov = np.linalg.pinv((x.T * w) @ x)
    return beta, np.sqrt(np.maximum(np.diag(cov), 0)), ok
