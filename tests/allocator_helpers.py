"""Fakes of the runner's view and probed problem states, for allocator tests written by hand."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from infscale.budgets.ledger import Ledger
from infscale.search.allocators.probe_then_allocate import ProbeThenAllocate
from infscale.search.allocators.state import ProblemState
from infscale.tasks.base import Problem, TextTask


class PlanRunner:
    """What the allocators read of a WaveRunner: the strategy, what is left of the pool (`room`,
    unlimited if None), an expected cost of 1 FLOP and a worst case of 50 FLOPs per solution."""

    def __init__(self, flops_left: float | None, selector: str = "majority"):
        self.strategy = SimpleNamespace(selector=selector, aggregation="last", task=TextTask())
        self.flops_left = flops_left

    def left(self):
        return self.flops_left, None

    def room(self):
        return float("inf") if self.flops_left is None else self.flops_left

    def worst_flops(self, state, n):
        return 50.0 * n

    def affords(self, state, n, flops_left, tokens_left):
        return flops_left is None or 50.0 * n <= flops_left

    def cost(self, state):
        return SimpleNamespace(tokens=10)

    def measured(self, state):
        return 1.0

    def expected(self, state, n):
        return n * self.measured(state)


def probed(answers_by_problem: list[list[str]], spent: float = 10.0) -> list[ProblemState]:
    states = []
    for k, answers in enumerate(answers_by_problem):
        state = ProblemState.fresh(Problem(id=f"p{k}", prompt=f"Q{k}", reference="A"), Ledger(None, None))
        for answer in answers:
            node = state.tree.add_child(state.tree.root, text=answer, tokens=1, context=0, finish="end", answer=answer)
            node.terminal = True
        state.ledger.flops_decode = spent
        states.append(state)
    return states


def probe_allocator(**changes) -> ProbeThenAllocate:
    params = dict(
        probe_n=2,
        step=2,
        max_n=8,
        wave_fraction=1.0,
        min_flip=0.05,
        hopeless_cap=4,
        hopeless_agreement=0.34,
        prior=1.0,
        max_waves=5,
    )
    return ProbeThenAllocate(**{**params, **changes})


def write_sweep(folder: Path, rows: list[dict], selector: str = "majority") -> Path:
    """A finished sweep's per-difficulty table (`levels.json`) of best_of_n rows with `selector`."""
    folder.mkdir(exist_ok=True)
    base = {"strategy.name": "best_of_n", "strategy.selector": selector}
    (folder / "levels.json").write_text(json.dumps([{**base, **row} for row in rows]))
    return folder
