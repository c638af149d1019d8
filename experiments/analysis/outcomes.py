"""Per-problem outcomes of every collected point (`problems.json`), the input of the paired
statistics in experiments/analysis/paired.py and experiments/stats.py.

    {"<point>": {"seed": "0", "problem_id": [...], "correct": [...], "flops_total": [...],
                 "flops_paper": [...], "tokens_generated": [...], "difficulty": ["level 1", ...]}, ...}

A point is a real job (its folder, relative to the sweep) or a subsampled width of one
(`<job>#<selector>@<n>`); the `point` column of collected.csv / curves.csv names it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from infscale.experiments.analysis.paired import Outcomes, stack
from infscale.experiments.app.store import atomic_write
from infscale.experiments.stats import DRAWS, Resampler

COST_METRICS = ("flops_total", "flops_paper", "tokens_generated")
FILE = "problems.json"


def point_id(row: dict[str, Any]) -> str:
    if row.get("source", "run") == "run":
        return str(row["job"])
    return f"{row['job']}#{row['strategy.selector']}@{row['strategy.n']}"


def entry(
    seed: Any, ids: Sequence[str], correct: Sequence[float], costs: dict[str, Sequence], difficulty: Sequence[Any]
) -> dict[str, Any]:
    return {
        "seed": str(seed),
        "problem_id": list(ids),
        "correct": list(correct),
        **{k: list(costs[k]) for k in costs},
        "difficulty": list(difficulty),
    }


def write(entries: dict[str, dict[str, Any]], root: Path) -> Path:
    path = Path(root) / FILE
    atomic_write(path, json.dumps(entries))
    return path


def load(root: Path) -> dict[str, Outcomes]:
    """Point -> its outcomes (one seed row). Costs a backend did not report are NaN."""
    path = Path(root) / FILE
    if not path.exists():
        raise ValueError(f"{path} does not exist: rerun infscale-collect on the sweep (it writes per-problem outcomes)")
    out = {}
    for point, data in json.loads(path.read_text()).items():
        costs = {
            k: np.array([[np.nan if v is None else v for v in data[k]]], dtype=float) for k in COST_METRICS if k in data
        }
        correct = np.array([data["correct"]], dtype=float)
        label = f"configuration {point} of {Path(root)}"
        out[point] = Outcomes(tuple(data["problem_id"]), (data["seed"],), correct, costs, label)
    return out


def difficulty(root: Path) -> dict[str, dict[str, str]]:
    """Policy-independent view for the paired tables: problem id -> difficulty label, per point."""
    data = json.loads((Path(root) / FILE).read_text())
    return {
        point: {p: d for p, d in zip(e["problem_id"], e["difficulty"]) if d is not None} for point, e in data.items()
    }


def members_of(point: dict[str, Any]) -> list[str]:
    """The collected points (one per seed) behind an analyzed point."""
    return str(point.get("points") or point.get("point") or point_id(point)).split(";")


def of_point(point: dict[str, Any], table: dict[str, Outcomes]) -> Outcomes:
    """The outcomes of an analyzed point: its seeds' jobs stacked (see analyze.average_seeds)."""
    names = members_of(point)
    missing = [n for n in names if n not in table]
    if missing:
        raise ValueError(f"no per-problem outcomes for point {missing[0]}: rerun infscale-collect on the sweep")
    return stack([table[n] for n in names])


class Stats:
    """The per-problem outcomes of a sweep and one shared resampler per problem set, so that
    every comparison over the same problems is paired. A configuration run on fewer problems
    than the others (`n_problems` smaller) is compared with each on the problems they share."""

    def __init__(self, root: Path, draws: int = DRAWS):
        self.table = load(root)
        self.labels = difficulty(root)
        self.draws = draws
        self._resamplers: dict[tuple[str, ...], Resampler] = {}
        self._stacked: dict[tuple[str, ...], Outcomes] = {}

    def outcomes(self, point: dict[str, Any]) -> Outcomes:
        key = tuple(members_of(point))
        if key not in self._stacked:  # stacked once: Resampler caches replicates by identity
            self._stacked[key] = of_point(point, self.table)
        return self._stacked[key]

    def problems(self, point: dict[str, Any], level: str = "all") -> tuple[str, ...]:
        """The problems behind `point` (those of difficulty `level` unless 'all')."""
        ids = self.outcomes(point).problems
        if level == "all":
            return ids
        labels = self.labels.get(members_of(point)[0], {})
        return tuple(pid for pid in ids if labels.get(pid) == level)

    def resampler(self, problems: Sequence[str]) -> Resampler:
        key = tuple(problems)
        if key not in self._resamplers:
            self._resamplers[key] = Resampler(key, self.draws)
        return self._resamplers[key]

    def shared(self, resampler: Resampler, *points: dict[str, Any]) -> Resampler | None:
        """`resampler`, or where a point did not run all its problems the resampler over those
        it did run (None when it ran none of them)."""
        ran = [set(self.outcomes(p).problems) for p in points]
        if all(len(r) >= len(resampler.problems) and r.issuperset(resampler.problems) for r in ran):
            return resampler
        common = tuple(pid for pid in resampler.problems if all(pid in r for r in ran))
        return self.resampler(common) if common else None

    def short_runs(self) -> list[str]:
        """One line per job that ran fewer problems than the sweep's largest job (its
        subsampled widths with it), saying on how many problems it is compared."""
        most = max(len(o.problems) for o in self.table.values())
        jobs: dict[str, int] = {}
        for point, outcome in self.table.items():
            if len(outcome.problems) < most:
                jobs.setdefault(point.split("#")[0], len(outcome.problems))
        return [
            f"{job} ran {count} of the {most} problems the largest job ran: it is compared with the others "
            f"on the problems it shares with each"
            for job, count in sorted(jobs.items())
        ]
