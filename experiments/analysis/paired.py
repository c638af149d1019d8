"""Paired bootstrap over problems, with seeds as a second level.

Every comparison of two configurations on the same problems resamples the problems once per
replicate and applies the same draw to both (the difference between two methods is far less
noisy than either accuracy, because a problem that is hard for one is hard for the other).
Seeds are the second level: a configuration run under seeds 0, 1, 2 contributes a
(seeds x problems) matrix; each replicate also resamples its seeds, with the same draw for
every configuration run under the same seeds (paired), independently otherwise.

Intervals are percentile intervals of the replicates. A statistic chosen inside the data
(the width n at which B peaks, the point of a curve that fits a budget) is chosen again inside
each replicate, so the interval carries the selection's own noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from infscale.experiments.analysis.fits import envelope_cost

DRAWS = 1000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Outcomes:
    """Per-problem results of one configuration: rows are seeds, columns problems."""

    problems: tuple[str, ...]
    seeds: tuple[str, ...]
    correct: np.ndarray  # (seeds, problems), each in [0, 1] (subsampled points: expected correctness)
    costs: dict[str, np.ndarray] = field(default_factory=dict)  # metric -> (seeds, problems)
    label: str = "this configuration"  # which configuration, in which folder: for error lines

    def __post_init__(self) -> None:
        shape = (len(self.seeds), len(self.problems))
        if self.correct.shape != shape or any(v.shape != shape for v in self.costs.values()):
            raise ValueError(f"outcomes: arrays must be seeds x problems = {shape}, got {self.correct.shape}")

    def on(self, problems: Sequence[str]) -> Outcomes:
        """The same outcomes on `problems`, in that order (each must be present)."""
        index = {pid: i for i, pid in enumerate(self.problems)}
        missing = [pid for pid in problems if pid not in index]
        if missing:
            raise ValueError(
                f"problem {missing[0]} was not run by {self.label} (it ran {len(self.problems)} problems, the "
                f"comparison needs {len(problems)}); compare configurations run on the same problems "
                "(task, n_problems)"
            )
        cols = [index[pid] for pid in problems]
        costs = {k: v[:, cols] for k, v in self.costs.items()}
        return Outcomes(tuple(problems), self.seeds, self.correct[:, cols], costs, self.label)

    def metric(self, name: str) -> np.ndarray:
        return self.correct if name == "accuracy" else self.costs[name]

    def mean(self, name: str = "accuracy") -> float:
        return float(self.metric(name).mean())


def stack(members: Sequence[Outcomes]) -> Outcomes:
    """Several seeds of one configuration as one (seeds x problems) matrix on their common problems."""
    common = [pid for pid in members[0].problems if all(pid in set(m.problems) for m in members[1:])]
    if not common:
        raise ValueError("outcomes: the seeds of this configuration share no problem")
    aligned = [m.on(common) for m in members]
    return Outcomes(
        tuple(common),
        tuple(s for m in aligned for s in m.seeds),
        np.vstack([m.correct for m in aligned]),
        {k: np.vstack([m.costs[k] for m in aligned]) for k in aligned[0].costs},
        members[0].label + (f" (pooled with {len(members) - 1} more run(s) of it)" if len(members) > 1 else ""),
    )


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
        self._cache: dict[tuple[int, str], tuple[Outcomes, np.ndarray]] = {}

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

    def replicates(self, outcomes: Outcomes, name: str = "accuracy") -> np.ndarray:
        """The mean of `name` in each replicate, shape (draws,); cached per (outcomes, name)
        while the outcomes object lives (Stats keeps one per point)."""
        key = (id(outcomes), name)
        cached = self._cache.get(key)
        if cached is not None and cached[0] is outcomes:
            return cached[1]
        values = self._replicates(outcomes, name)
        self._cache[key] = (outcomes, values)
        return values

    def _replicates(self, outcomes: Outcomes, name: str) -> np.ndarray:
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


def mean_interval(resampler: Resampler, outcomes: Outcomes, name: str = "accuracy") -> tuple[float, float, float]:
    """Estimate and interval of one configuration's mean `name` (problems and seeds resampled)."""
    return (outcomes.on(resampler.problems).mean(name), *interval(resampler.replicates(outcomes, name)))


def difference(resampler: Resampler, a: Outcomes, b: Outcomes, name: str = "accuracy") -> tuple[float, float, float]:
    """Paired estimate and interval of mean(a) - mean(b)."""
    estimate = a.on(resampler.problems).mean(name) - b.on(resampler.problems).mean(name)
    return (estimate, *interval(resampler.replicates(a, name) - resampler.replicates(b, name)))


def _reach(cost_a: np.ndarray, acc_a: np.ndarray, cost_b: np.ndarray, acc_b: np.ndarray) -> tuple[float, float, float]:
    """(target accuracy, B's cost there, A's cost to reach it; inf when A never does)."""
    target = float(acc_b.max())
    cost_b_best = float(cost_b[acc_b == target].min())
    reached = envelope_cost(cost_a, acc_a, target)
    return target, cost_b_best, float("inf") if reached is None else reached


def reach_ratio(
    resampler: Resampler, curve_a: Sequence[Outcomes], curve_b: Sequence[Outcomes], cost: str = "flops_total"
) -> dict[str, float]:
    """ "A reaches B's best accuracy at r x the compute", r with its paired interval.

    B's best accuracy and the width n where B reaches it are chosen again in every replicate
    (no peak picked after the fact); A's compute to reach it is its best-so-far envelope
    interpolated in log compute (`fits.envelope_cost`). r = cost_A / cost_B: 0.5 means A needs
    half the compute; infinite when A never reaches the target within its measured widths.
    """

    def table(curve: Sequence[Outcomes], name: str, replicated: bool) -> np.ndarray:
        if replicated:
            return np.column_stack([resampler.replicates(o, name) for o in curve])
        return np.array([[o.on(resampler.problems).mean(name) for o in curve]])

    results = []
    for replicated in (False, True):
        acc_a, cost_a = table(curve_a, "accuracy", replicated), table(curve_a, cost, replicated)
        acc_b, cost_b = table(curve_b, "accuracy", replicated), table(curve_b, cost, replicated)
        results.append(np.array([_reach(cost_a[r], acc_a[r], cost_b[r], acc_b[r]) for r in range(len(acc_a))]))
    (target, cost_b, cost_a), reps = results[0][0], results[1]
    ratios = reps[:, 2] / reps[:, 1]
    low, high = interval(ratios)
    return {
        "target_accuracy": target,
        "target_lo": interval(reps[:, 0])[0],
        "target_hi": interval(reps[:, 0])[1],
        "cost_b": cost_b,
        "cost_a": None if np.isinf(cost_a) else cost_a,
        "ratio": None if np.isinf(cost_a) else cost_a / cost_b,
        "ratio_lo": low,
        "ratio_hi": high,
        "reached_share": float(np.mean(np.isfinite(ratios))),
        "draws": resampler.draws,
    }
