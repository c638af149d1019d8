"""`allocator=from_sweep`: Snell et al.'s compute-optimal scaling, driven by a finished sweep.

`sweep` is a multirun folder that `infscale-collect` has processed: its per-difficulty table
(`levels.json`: accuracy and mean FLOPs of every best_of_n configuration, per difficulty bin)
says what each width buys on problems of each difficulty. A run then

1. probes every problem with `probe_n` solutions and predicts its difficulty without the
   answer key (search/allocators/difficulty.py); problems are ranked by the prediction and
   given to the sweep's bins in the bins' proportions, easiest bin (highest accuracy at its
   cheapest width) first;
2. plans a width per bin: every bin starts at the probe's width, then the bin whose next
   width adds the most expected correct answers per expected FLOP is raised, while the
   plan's expected cost fits in the pool (knapsack by marginal gain);
3. draws the planned widths in waves of at most `step` more solutions per problem, each
   wave's worst case within what is left of the pool.

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
        runner.check_probe(states, self.probe_n)

    def grants(self, runner: WaveRunner, states: list[ProblemState], wave: int) -> dict[str, int]:
        if wave == 0:
            return {s.problem.id: self.probe_n for s in states if s.open and not s.samples}
        if wave == 1:
            self._plan(runner, states)
        flops_left, tokens_left = runner.left()
        grants = {}
        for state in states:
            if not state.open:
                continue
            want = min(self.step, state.estimate["target"] - len(state.samples))
            if want <= 0:
                state.close(f"bin {state.estimate['bin']}: n={len(state.samples)}")
                continue
            if runner.affords(state, want, flops_left, tokens_left):
                grants[state.problem.id] = want
                flops_left = None if flops_left is None else flops_left - runner.worst_flops(state, want)
                tokens_left = None if tokens_left is None else tokens_left - want * runner.cost(state).tokens
        if not grants:
            for state in states:
                if state.open:
                    state.close(f"bin {state.estimate['bin']}: n={len(state.samples)} (pool)")
        return grants

    def _plan(self, runner: WaveRunner, states: list[ProblemState]) -> None:
        strategy = runner.strategy
        table, sizes = self.table(strategy.selector)
        bins = sorted(table, key=lambda b: -table[b][min(table[b])][0])  # easiest first
        for state in states:
            state.estimate = estimate(state.samples, strategy.selector, strategy.aggregation, strategy.task, 1.0)
        ranked = sorted(states, key=lambda s: (s.estimate["difficulty"], -(s.estimate.get("mean_score") or 0.0)))
        total, members, start = sum(sizes[b] for b in bins), {}, 0
        for k, name in enumerate(bins):
            end = len(ranked) if k == len(bins) - 1 else start + round(len(ranked) * sizes[name] / total)
            members[name] = ranked[start:end]
            start = end
        widths = {b: min(table[b]) for b in bins}
        flops_left, _ = runner.left()
        budget = (flops_left if flops_left is not None else float("inf")) + sum(
            s.ledger.flops_total or 0.0 for s in states
        )
        spent = sum(table[b][widths[b]][1] * len(members[b]) for b in bins)
        while True:
            best, best_ratio = None, 0.0
            for b in bins:
                larger = sorted(w for w in table[b] if w > widths[b])
                if not larger or not members[b]:
                    continue
                nxt = larger[0]
                gain = (table[b][nxt][0] - table[b][widths[b]][0]) * len(members[b])
                cost = (table[b][nxt][1] - table[b][widths[b]][1]) * len(members[b])
                if cost > 0 and spent + cost <= budget and gain / cost > best_ratio:
                    best, best_ratio = (b, nxt, cost), gain / cost
            if best is None:
                break
            widths[best[0]] = best[1]
            spent += best[2]
        for b in bins:
            for state in members[b]:
                state.estimate = {**state.estimate, "bin": b, "target": widths[b]}


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
