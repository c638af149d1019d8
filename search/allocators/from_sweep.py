"""`allocator=from_sweep`: Snell et al.'s compute-optimal scaling, driven by a finished sweep.

`sweep` is a multirun folder that `infscale-collect` has processed: its per-difficulty table
(`levels.json`: accuracy and mean FLOPs of every best_of_n configuration, per difficulty bin)
says what each width buys on problems of each difficulty. A run then

1. probes every problem with `probe_n` solutions and predicts its difficulty without the
   answer key (search/allocators/difficulty.py); problems are ranked by the prediction and
   given to the sweep's bins in the bins' proportions, easiest bin (highest accuracy at its
   cheapest width) first;
2. plans a width per bin: every bin starts at its cheapest width, then the bin whose next
   width adds the most expected correct answers (the sweep's accuracies) per expected FLOP
   (the solutions it adds at this run's measured mean cost of a solution) is raised, while
   the plan's expected cost fits in what is left of the pool (knapsack by marginal gain);
   where the best raise no longer fits whole, as many of its bin's problems are raised as
   fit (the knapsack's fractional step), so the plan spends the pool;
3. draws the planned widths in waves of at most `step` more solutions per problem, each
   wave's expected cost within what is left of the pool; once every problem has its width,
   the plan is raised again with what the pool still holds, until no raise gains anything.

Only the sweep's rows of the run's own selector are used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from infscale.search.allocators.base import Allocator, positive_int
from infscale.search.allocators.difficulty import estimate
from infscale.search.allocators.state import ProblemState
from infscale.search.allocators.waves import WaveRunner

Table = dict[str, dict[int, tuple[float, float]]]  # bin -> width -> (accuracy, mean FLOPs)


@dataclass
class FromSweep(Allocator):
    sweep: str
    probe_n: int
    step: int

    def __post_init__(self) -> None:
        positive_int("probe_n", self.probe_n)
        positive_int("step", self.step)
        self.rows = read_levels(Path(self.sweep))

    def table(self, selector: str) -> tuple[Table, dict[str, int]]:
        table: Table = {}
        sizes: dict[str, int] = {}
        for row in self.rows:
            if row.get("strategy.name") != "best_of_n" or row.get("strategy.selector") != selector:
                continue
            if row.get("flops_total") is None or row.get("allocator.name") not in (None, "none"):
                continue
            width = int(row["strategy.n"])
            if width < self.probe_n:
                continue
            table.setdefault(row["difficulty"], {})[width] = (float(row["accuracy"]), float(row["flops_total"]))
            sizes[row["difficulty"]] = max(sizes.get(row["difficulty"], 0), int(row.get("n_problems") or 1))
        if not table:
            raise ValueError(
                f"allocator.sweep={self.sweep} has no per-difficulty best_of_n rows with selector '{selector}' "
                f"at width >= {self.probe_n}"
            )
        return table, sizes

    def plan(self, runner: WaveRunner, states: list[ProblemState]) -> str:
        table, _ = self.table(runner.strategy.selector)
        widest = max(max(widths) for widths in table.values())
        return (
            f"{self.probe_n} to {widest} solutions per problem (allocator=from_sweep: a probe of "
            f"allocator.probe_n={self.probe_n}, then per difficulty the width allocator.sweep={self.sweep} "
            f"found compute-optimal, at most allocator.step={self.step} more per wave)"
        )

    def check(self, runner: WaveRunner, states: list[ProblemState]) -> None:
        self.table(runner.strategy.selector)

    def grants(self, runner: WaveRunner, states: list[ProblemState], wave: int) -> dict[str, int]:
        if wave == 0:
            return {s.problem.id: self.probe_n for s in states if s.open and not s.samples}
        if wave == 1:
            self._assign(runner, states)
        if wave == 1 or not any(self._short(s) for s in states if s.open):
            self._raise(runner, states)
        room, grants = runner.room(), {}
        for state in states:
            want = min(self.step, self._short(state)) if state.open else 0
            if want > 0 and want * runner.measured(state) <= room:
                grants[state.problem.id] = want
                room -= want * runner.measured(state)
        if not grants:
            for state in states:
                if state.open:
                    left = " (pool)" if self._short(state) else ""
                    state.close(f"bin {state.estimate['bin']}: n={len(state.samples)}{left}")
        return grants

    @staticmethod
    def _short(state: ProblemState) -> int:
        return max(state.estimate["target"] - len(state.samples), 0)

    def _assign(self, runner: WaveRunner, states: list[ProblemState]) -> None:
        """Each problem's bin, from its probe: ranked by predicted difficulty, given to the
        bins in their proportions, easiest first; its target, its bin's cheapest width."""
        strategy = runner.strategy
        table, sizes = self.table(strategy.selector)
        bins = sorted(table, key=lambda b: -table[b][min(table[b])][0])  # easiest first
        for state in states:
            state.estimate = estimate(state.samples, strategy.selector, strategy.aggregation, strategy.task, 1.0)
        ranked = sorted(states, key=lambda s: (s.estimate["difficulty"], -(s.estimate.get("mean_score") or 0.0)))
        total, start = sum(sizes[b] for b in bins), 0
        for k, name in enumerate(bins):
            end = len(ranked) if k == len(bins) - 1 else start + round(len(ranked) * sizes[name] / total)
            for state in ranked[start:end]:
                state.estimate = {**state.estimate, "bin": name, "target": min(table[name])}
            start = end

    def _raise(self, runner: WaveRunner, states: list[ProblemState]) -> None:
        """Raise a bin's targets to its next width, the raise with the most expected correct
        answers per expected FLOP among those that fit in what the plan leaves of the pool,
        until none fits; then the best raise that does not fit goes to those of its problems
        that do (in problem order)."""
        table, _ = self.table(runner.strategy.selector)
        open_ = [s for s in states if s.open]
        cost = {s.problem.id: runner.measured(s) for s in open_}
        budget = runner.room() - sum(self._short(s) * cost[s.problem.id] for s in open_)
        while True:
            raises = []  # (gain per FLOP, FLOPs, width, [(problem, FLOPs)])
            for name, rows in table.items():
                members = [s for s in open_ if s.estimate["bin"] == name]
                low = min((s.estimate["target"] for s in members), default=0)
                larger = sorted(w for w in rows if members and w > low)
                if not larger:
                    continue
                width = larger[0]
                extra = [
                    (s, (width - max(s.estimate["target"], len(s.samples))) * cost[s.problem.id])
                    for s in members
                    if s.estimate["target"] < width
                ]
                flops = sum(more for _, more in extra)
                gain = (rows[width][0] - rows[low][0]) * len(extra)
                if flops > 0 and gain > 0:
                    raises.append((gain / flops, flops, width, extra))
            fitting = [r for r in raises if r[1] <= budget]
            best = max(fitting or raises, key=lambda r: r[0], default=None)
            if best is None:
                return
            for state, more in best[3]:
                if more <= budget:
                    state.estimate = {**state.estimate, "target": best[2]}
                    budget -= more
            if not fitting:
                return  # the fractional step: the pool is planned out


def read_levels(folder: Path) -> list[dict]:
    path = folder / "levels.json"
    if not folder.is_dir() or not path.exists():
        raise ValueError(
            f"allocator.sweep={folder} has no per-difficulty table (levels.json): run infscale-collect on a "
            f"finished multirun first"
        )
    try:
        rows = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise ValueError(f"allocator.sweep={folder}: levels.json is not valid JSON") from None
    if not isinstance(rows, list):
        raise ValueError(f"allocator.sweep={folder}: levels.json is not a table of rows")
    return rows
