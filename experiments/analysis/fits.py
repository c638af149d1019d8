"""Scaling fits of error against compute, crossovers between fits, and "FLOPs saved".

The functional form is the saturating power law

    e(C) = e_inf + a * (C / C0) ** (-b)

with C the mean compute per problem (FLOPs, tokens or seconds), C0 the smallest C of the
curve (so `a` is the reducible error at the cheapest point), e_inf the irreducible error
the strategy saturates at (Wu et al.: voting saturates), and b the rate. Fitted with
`scipy.optimize.curve_fit`, weighted by each point's CI half-width; the standard errors
are the square roots of the covariance diagonal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, curve_fit

FORM = "e(C) = e_inf + a * (C / C0)^(-b)"
MIN_SIGMA = 0.01


@dataclass
class Fit:
    e_inf: float
    a: float
    b: float
    e_inf_se: float
    a_se: float
    b_se: float
    c0: float
    n_points: int
    rmse: float
    c_min: float
    c_max: float

    def predict(self, cost: np.ndarray | float) -> np.ndarray:
        return saturating(np.asarray(cost, dtype=float) / self.c0, self.e_inf, self.a, self.b)

    def inverse(self, error: float) -> float | None:
        """The compute at which the fitted error reaches `error` (None: never, it saturates above)."""
        if error <= self.e_inf or self.a <= 0 or self.b <= 0:
            return None
        return float(self.c0 * ((error - self.e_inf) / self.a) ** (-1.0 / self.b))


def saturating(x: np.ndarray, e_inf: float, a: float, b: float) -> np.ndarray:
    return e_inf + a * np.power(x, -b)


def fit_saturating(cost: Sequence[float], error: Sequence[float], sigma: Sequence[float] | None = None) -> Fit:
    """Fit `FORM` to (cost, error) points; needs at least 4 points at 2+ distinct costs."""
    cost, error = np.asarray(cost, dtype=float), np.asarray(error, dtype=float)
    if len(cost) != len(error):
        raise ValueError(f"fit: {len(cost)} costs but {len(error)} errors")
    if len(cost) < 4 or len(np.unique(cost)) < 2:
        raise ValueError(f"fit: needs at least 4 points at 2 or more costs, got {len(cost)}")
    if np.any(cost <= 0) or not np.all(np.isfinite(cost)):
        raise ValueError("fit: costs must be positive and finite")
    sigma = None if sigma is None else np.maximum(np.asarray(sigma, dtype=float), MIN_SIGMA)
    c0 = float(cost.min())
    x = cost / c0
    start = (max(float(error.min()) * 0.5, 0.0), max(float(error.max() - error.min()), 1e-3), 0.5)
    params, cov = curve_fit(
        saturating,
        x,
        error,
        p0=start,
        sigma=sigma,
        absolute_sigma=sigma is not None,
        bounds=([0.0, 0.0, 0.0], [1.0, 10.0, 10.0]),
        maxfev=20000,
    )
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None)) if np.all(np.isfinite(cov)) else np.full(3, np.nan)
    residual = error - saturating(x, *params)
    return Fit(
        *map(float, params),
        *map(float, se),
        c0=c0,
        n_points=len(cost),
        rmse=float(np.sqrt(np.mean(residual**2))),
        c_min=c0,
        c_max=float(cost.max()),
    )


def crossovers(first: Fit, second: Fit, low: float, high: float, grid: int = 400) -> list[float]:
    """Costs in [low, high] where the two fitted error curves cross (sign changes of the gap)."""
    if not 0 < low < high:
        return []
    logs = np.linspace(math.log(low), math.log(high), grid)
    gap = first.predict(np.exp(logs)) - second.predict(np.exp(logs))
    found = []
    for i in range(grid - 1):
        if gap[i] == 0:
            found.append(float(math.exp(logs[i])))
        elif gap[i] * gap[i + 1] < 0:
            root = brentq(
                lambda t: float(first.predict(math.exp(t)) - second.predict(math.exp(t))), logs[i], logs[i + 1]
            )
            found.append(float(math.exp(root)))
    return found


def envelope_cost(cost: Sequence[float], accuracy: Sequence[float], target: float) -> float | None:
    """The least compute at which a configuration's measured curve reaches `target` accuracy.

    The curve is its best-so-far envelope (more compute never hurts: one can always spend
    less of it), interpolated linearly in accuracy against log compute between measured
    points. None when no measured point reaches the target.
    """
    order = np.argsort(np.asarray(cost, dtype=float), kind="stable")
    cost = np.asarray(cost, dtype=float)[order]
    best = np.maximum.accumulate(np.asarray(accuracy, dtype=float)[order])
    reached = np.flatnonzero(best >= target)
    if reached.size == 0:
        return None
    k = int(reached[0])
    if k == 0 or best[k] == best[k - 1]:
        return float(cost[k])
    share = (target - best[k - 1]) / (best[k] - best[k - 1])
    return float(math.exp(math.log(cost[k - 1]) + share * (math.log(cost[k]) - math.log(cost[k - 1]))))


def flops_saved(
    cost_a: Sequence[float], acc_a: Sequence[float], cost_b: Sequence[float], acc_b: Sequence[float]
) -> dict:
    """How much less compute configuration A needs to reach configuration B's best accuracy.

    B's best accuracy is its highest measured point, reached at B's cheapest point with that
    accuracy; A's cost is `envelope_cost` at that accuracy. `saved` = cost_B / cost_A (2.0:
    A needs half the compute; below 1: A needs more); None when A never reaches it.
    """
    target = float(np.max(acc_b))
    cost_b_best = float(min(c for c, a in zip(cost_b, acc_b) if a == target))
    cost_a_reach = envelope_cost(cost_a, acc_a, target)
    return {
        "target_accuracy": target,
        "cost_b": cost_b_best,
        "cost_a": cost_a_reach,
        "saved": None if cost_a_reach is None else cost_b_best / cost_a_reach,
    }
