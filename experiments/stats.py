"""The one statistics module: every interval, paired difference and AUC in infscale.

Intervals over problems are percentile bootstraps (seeded: the same data give the same
interval); a difference between two configurations on the same problems is paired (both
resampled with the same draws). Intervals over a handful of seeds are t intervals. AUC is
the Mann-Whitney statistic (scipy), ties counted half.

The sweep analysis compares many configurations at once: `Resampler` draws one set of
replicates over problems (seeds as a second level: a configuration run under seeds 0, 1, 2 is
a seeds x problems matrix, and each replicate also resamples its seeds, with the same draw
for every configuration run under the same seeds) and applies it to every configuration, so
that any two are compared paired.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from scipy import stats

DRAWS = 1000
CONFIDENCE = 0.95


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


class PerProblem(Protocol):
    """One configuration's per-problem outcomes, rows seeds and columns problems
    (analysis.paired.Outcomes)."""

    problems: tuple[str, ...]
    seeds: tuple[str, ...]

    def on(self, problems: Sequence[str]) -> PerProblem: ...

    def metric(self, name: str) -> np.ndarray: ...

    def mean(self, name: str = "accuracy") -> float: ...


class Resampler:
    """One set of bootstrap replicates over `problems`, shared by every configuration it is
    applied to, so that any two of them are compared paired."""

    def __init__(self, problems: Sequence[str], draws: int = DRAWS, seed: int = 0):
        if not problems:
            raise ValueError("bootstrap: no problems to resample")
        if draws < 10:
            raise ValueError(f"bootstrap: draws must be >= 10, got {draws}")
        self.problems = tuple(problems)
        self.draws = draws
        self._rng = np.random.default_rng(seed)
        size = len(self.problems)
        self.problem_weights = self._rng.multinomial(size, np.full(size, 1.0 / size), size=draws).astype(float)
        self._seed_weights: dict[tuple[str, ...], np.ndarray] = {}
        self._cache: dict[tuple[int, str], tuple[PerProblem, np.ndarray]] = {}

    def seed_weights(self, seeds: tuple[str, ...]) -> np.ndarray:
        """(draws, seeds) resampling counts; the same seed list always gets the same draw."""
        if seeds not in self._seed_weights:
            size = len(seeds)
            self._seed_weights[seeds] = (
                np.ones((self.draws, 1))
                if size == 1
                else self._rng.multinomial(size, np.full(size, 1.0 / size), size=self.draws).astype(float)
            )
        return self._seed_weights[seeds]

    def replicates(self, outcomes: PerProblem, name: str = "accuracy") -> np.ndarray:
        """The mean of `name` in each replicate, shape (draws,); cached per (outcomes, name)
        while the outcomes object lives (Stats keeps one per point)."""
        key = (id(outcomes), name)
        cached = self._cache.get(key)
        if cached is not None and cached[0] is outcomes:
            return cached[1]
        values = self._replicates(outcomes, name)
        self._cache[key] = (outcomes, values)
        return values

    def _replicates(self, outcomes: PerProblem, name: str) -> np.ndarray:
        values = (
            outcomes.on(self.problems).metric(name) if outcomes.problems != self.problems else outcomes.metric(name)
        )
        seeds = self.seed_weights(outcomes.seeds)
        per_problem = seeds @ values / len(outcomes.seeds)  # (draws, problems)
        return (per_problem * self.problem_weights).sum(axis=1) / len(self.problems)


def interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile interval; infinite replicates (a target never reached) count as infinite."""
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.asarray(values, dtype=float), [tail, 1 - tail], method="inverted_cdf")
    return float(low), float(high)


def mean_interval(resampler: Resampler, outcomes: PerProblem, name: str = "accuracy") -> tuple[float, float, float]:
    """Estimate and interval of one configuration's mean `name` (problems and seeds resampled)."""
    return (outcomes.on(resampler.problems).mean(name), *interval(resampler.replicates(outcomes, name)))


def difference(
    resampler: Resampler, a: PerProblem, b: PerProblem, name: str = "accuracy"
) -> tuple[float, float, float]:
    """Paired estimate and interval of mean(a) - mean(b)."""
    estimate = a.on(resampler.problems).mean(name) - b.on(resampler.problems).mean(name)
    return (estimate, *interval(resampler.replicates(a, name) - resampler.replicates(b, name)))
