"""Small logistic-model tools: intercept calibration (to hit a prevalence) and an IRLS fit.

The simulator plants effects as logistic models whose coefficients are the target log odds
ratios; the intercept is solved so the population prevalence matches its target. ``fit_logistic``
lets tests and users recover the planted odds ratios from the truth table without statsmodels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq
from scipy.special import expit

FloatArray = npt.NDArray[np.float64]


def calibrate_intercept(linear: FloatArray, target: float) -> float:
    """The intercept ``a`` with mean(expit(a + linear)) == target (0 < target < 1)."""
    if linear.size == 0:
        return float(np.log(target / (1 - target)))

    def gap(a: float) -> float:
        return float(expit(a + linear).mean() - target)

    return float(brentq(gap, -30.0, 30.0, xtol=1e-9))


def draw_logistic(
    linear: FloatArray, target: float, rng: np.random.Generator
) -> tuple[npt.NDArray[np.bool_], float]:
    """Bernoulli draws from a calibrated logistic model; returns (outcomes, intercept)."""
    a = calibrate_intercept(linear, target)
    return rng.random(linear.size) < expit(a + linear), a


def fit_logistic(
    x: FloatArray, y: npt.NDArray[np.bool_] | FloatArray, *, max_iter: int = 50
) -> tuple[FloatArray, FloatArray]:
    """Maximum-likelihood logistic regression by IRLS; ``x`` must include an intercept column.

    Returns (coefficients, standard errors).
    """
    yy = np.asarray(y, dtype=np.float64)
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        p = expit(x @ beta)
        w = np.clip(p * (1 - p), 1e-10, None)
        hessian = x.T @ (x * w[:, None])
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(beta)), x.T @ (yy - p))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    p = expit(x @ beta)
    w = np.clip(p * (1 - p), 1e-10, None)
    cov = np.linalg.inv(x.T @ (x * w[:, None]))
    return beta, np.sqrt(np.diag(cov))
