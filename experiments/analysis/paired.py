"""Per-problem outcomes of a configuration (seeds x problems) and the paired statistics the
analysis draws from them: "A reaches B's best accuracy at r x the compute". The bootstrap
itself (problems resampled, seeds as a second level, one draw shared by every configuration
so that any two are compared paired) is `stats.Resampler`.

A statistic chosen inside the data (the width n at which B peaks, the point of a curve that
fits a budget) is chosen again inside each replicate, so the interval carries the selection's
own noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from infscale.experiments.analysis.fits import envelope_cost
from infscale.experiments.stats import Resampler, interval


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
