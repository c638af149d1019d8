"""Problem difficulty for the per-level tables (Snell et al.): the task's own level where it
has one, else quintiles of each policy's single-sample accuracy on its widest best-of-N job."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np

from infscale.experiments.stats import bootstrap_ci

DIFFICULTY_BINS = 5


class RunRecords(Protocol):
    """A finished job as the difficulty split reads it."""

    config: dict[str, Any]
    records: list[dict[str, Any]]


def difficulty_of(
    jobs: list[RunRecords], pass1: dict[str, dict[str, float]], messages: list[str]
) -> dict[str, dict[str, Any]]:
    """Per policy: problem id -> difficulty label: 'level 3' from the task, else 'bin 1'
    (hardest) to 'bin 5' by the policy's single-sample accuracy on its widest best-of-N job."""
    labels: dict[str, dict[str, Any]] = {}
    for job in jobs:
        policy = job.config["policy"]["name"]
        if policy in labels:
            continue
        levels = {r["problem_id"]: r.get("level") for r in job.records}
        if all(v is not None for v in levels.values()):
            labels[policy] = {pid: f"level {v}" for pid, v in levels.items()}
        elif policy in pass1:
            labels[policy] = quantile_bins(pass1[policy])
        else:
            messages.append(
                f"policy {policy}: the task has no levels and no best-of-N job measures pass@1; no difficulty split"
            )
    for job in jobs:  # later jobs may cover problems the first did not
        policy = job.config["policy"]["name"]
        if policy in labels:
            for r in job.records:
                if r.get("level") is not None:
                    labels[policy].setdefault(r["problem_id"], f"level {r['level']}")
    return labels


def quantile_bins(accuracy: dict[str, float], bins: int = DIFFICULTY_BINS) -> dict[str, str]:
    """Problems into `bins` groups of equal size by single-sample accuracy, bin 1 hardest."""
    ids = sorted(accuracy, key=lambda pid: (accuracy[pid], pid))
    return {pid: f"bin {1 + i * bins // len(ids)}" for i, pid in enumerate(ids)}


COSTS_PER_LEVEL = ("flops_total", "flops_paper", "tokens_generated")


def level_rows(
    points: list[dict[str, Any]],
    per_problem: list[tuple[list[str], list[float], dict[str, list]]],
    labels: dict[str, dict[str, Any]],
    metrics: Iterable[str],
) -> list[dict[str, Any]]:
    """Each point's accuracy (with CI) and mean costs over the problems of each difficulty
    (the point's own `metrics`, measured over all its problems, are left out)."""
    out = []
    for point, (ids, correct, costs) in zip(points, per_problem):
        label = labels.get(point["policy.name"])
        if label is None:
            continue
        by_level: dict[str, list[int]] = {}
        for i, pid in enumerate(ids):
            if pid in label:
                by_level.setdefault(label[pid], []).append(i)
        for level, index in sorted(by_level.items()):
            values = [correct[i] for i in index]
            low, high = bootstrap_ci(values)
            out.append(
                {
                    **{k: v for k, v in point.items() if not k.startswith("_") and k not in metrics},
                    "difficulty": level,
                    "accuracy": float(np.mean(values)),
                    "accuracy_lo": low,
                    "accuracy_hi": high,
                    **{k: _mean_or_none([costs[k][i] for i in index]) for k in COSTS_PER_LEVEL},
                    "n_problems": len(index),
                }
            )
    return out


def _mean_or_none(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))
