"""Search against sampling at equal compute, and the verifier quality where search overtakes it.

A search run at width n costs C = its mean `flops.total` per problem. The sampling curve
(weighted best-of-N, subsampled at widths 1, 2, 4, ...) is read at that same C: each
problem's expected correctness is interpolated linearly in log compute between the two
widths whose mean costs bracket C, with the weights of the means, so that the difference
search - sampling is a per-problem vector and its interval is paired (both sides resampled
with the same problems). A C outside the curve's measured range has no equal-compute
sampling point (None), never an extrapolated one.

With one such difference per verifier, each verifier placed at its step AUC, the crossover is
the AUC above which the difference stays positive: the zero crossing of the difference
interpolated linearly between neighbouring verifiers. Its interval comes from replicates of
both axes (the differences by problems of the search set, the AUCs by problems of the AUC
set), the crossing found again in every replicate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from infscale.experiments.stats import interval


def equal_compute_correct(
    curve_costs: Sequence[float], curve_correct: Sequence[Sequence[float]], cost: float
) -> np.ndarray | None:
    """Per-problem correctness of a sampling curve at mean cost `cost`; None outside its range.

    `curve_costs[k]` is width k's mean cost, `curve_correct[k]` its per-problem correctness."""
    costs = np.asarray(curve_costs, dtype=float)
    correct = np.asarray(curve_correct, dtype=float)
    if costs.ndim != 1 or correct.shape[0] != len(costs) or len(costs) == 0:
        raise ValueError(f"curve: {len(costs)} costs for {correct.shape[0]} rows of per-problem correctness")
    if cost <= 0 or np.any(costs <= 0):
        raise ValueError(f"equal compute: costs must be positive, got {cost} against {costs.tolist()}")
    order = np.argsort(costs)
    costs, correct = costs[order], correct[order]
    if not costs[0] <= cost <= costs[-1]:
        return None
    upper = int(np.searchsorted(costs, cost, side="left"))
    if costs[upper] == cost:
        return correct[upper].copy()
    lower = upper - 1
    weight = (math.log(cost) - math.log(costs[lower])) / (math.log(costs[upper]) - math.log(costs[lower]))
    return (1.0 - weight) * correct[lower] + weight * correct[upper]


def zero_crossing(x: Sequence[float], y: Sequence[float]) -> float:
    """The x above which y stays positive, interpolated linearly between the last point at or
    below zero and the next one; -inf when every y is positive (ahead over the whole measured
    range), +inf when the largest x's y is not (never overtakes within it), NaN without a
    point. Points are taken in order of x; NaN points (an AUC a replicate cannot measure) are
    left out."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.shape != ys.shape:
        raise ValueError(f"zero_crossing: {xs.size} x values for {ys.size} y values")
    keep = ~(np.isnan(xs) | np.isnan(ys))
    xs, ys = xs[keep], ys[keep]
    if xs.size == 0:
        return math.nan
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    at_or_below = np.flatnonzero(ys <= 0)
    if at_or_below.size == 0:
        return -math.inf
    last = int(at_or_below[-1])
    if last == len(xs) - 1:
        return math.inf
    x0, x1, y0, y1 = xs[last], xs[last + 1], ys[last], ys[last + 1]
    return float(x0 + (0.0 - y0) * (x1 - x0) / (y1 - y0))


def crossing_interval(x_replicates: np.ndarray, y_replicates: np.ndarray) -> tuple[float, float, float]:
    """(low, high, share): the percentile interval of the crossing over paired replicates
    (rows: replicates, columns: verifiers) and the share of replicates whose crossing lies
    inside the measured range (infinite crossings count at their end of the interval; a
    replicate without a crossing, NaN, is left out of the interval and counts as outside)."""
    xr, yr = np.asarray(x_replicates, dtype=float), np.asarray(y_replicates, dtype=float)
    if xr.shape != yr.shape or xr.ndim != 2:
        raise ValueError(f"crossing_interval: replicate shapes differ or are not 2-D ({xr.shape}, {yr.shape})")
    crossings = np.array([zero_crossing(a, b) for a, b in zip(xr, yr)])
    measured = crossings[~np.isnan(crossings)]
    low, high = interval(measured) if measured.size else (math.nan, math.nan)
    return low, high, float(np.mean(np.isfinite(crossings)))
