"""The one statistics module: every interval, paired difference and AUC in infscale.

Intervals over problems are percentile bootstraps (seeded: the same data give the same
interval); a difference between two configurations on the same problems is paired (both
resampled with the same draws). Intervals over a handful of seeds are t intervals. AUC is
the Mann-Whitney statistic (scipy), ties counted half.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def bootstrap_ci(
    values: Sequence[float], confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (seeded: the same data give the same interval).
    Resamples are drawn in batches of about 2M values, so memory stays flat in the data size
    (batching does not change the draws)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to bootstrap: the run has zero problems")
    if np.all(data == data[0]):
        return float(data[0]), float(data[0])
    result = stats.bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
        batch=max(1, 2_000_000 // data.size),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def problem_draws(n_problems: int, resamples: int = 2000, seed: int = 0) -> np.ndarray:
    """Bootstrap draws of problem indices, shape (resamples, n_problems). Summarising several
    metrics with the same draws makes their intervals paired."""
    return np.random.default_rng(seed).integers(0, n_problems, size=(resamples, n_problems))


def draws_summary(values: Sequence[float], draws: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean of per-problem `values` and its percentile interval over `draws`."""
    x = np.asarray(values, dtype=float)
    tail = (1 - confidence) / 2
    low, high = np.quantile(x[draws].mean(axis=1), [tail, 1 - tail])
    return float(x.mean()), float(low), float(high)


def paired_difference(
    a: Sequence[float], b: Sequence[float], resamples: int = 4000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of a - b over the same problems and its 95% paired bootstrap interval."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return draws_summary(diff, problem_draws(len(diff), resamples, seed))


def t_interval(values: Sequence[float], bounds: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """(mean, low, high): the 95% t interval of the mean of a few values (seeds), clipped to
    `bounds` (a share's [0, 1]) where given; (x, x, x) for one value."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    low, high = mean - half, mean + half
    return (mean, max(low, bounds[0]), min(high, bounds[1])) if bounds else (mean, low, high)


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """P(a positive scores above a negative), ties counted half: the Mann-Whitney U statistic
    over the number of pairs. For a PRM, the step AUC (positive = right steps)."""
    return float(stats.mannwhitneyu(positive, negative).statistic / (len(positive) * len(negative)))


def labelled_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """`auc` of the scores labelled True against those labelled False; None when a side is empty."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    return auc(s[y], s[~y]) if y.any() and (~y).any() else None
