"""The engine as a scheduler's executor within one `Engine.run` call (search/scheduler.py):
both the whole-round form (`execute`, what lockstep drives) and the split form that the
continuous scheduler drives (prepare the jobs of an operation, call a backend from any thread,
settle a call's results, complete an operation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infscale.budgets.ledger import Ledger
from infscale.search.jobs import Job
from infscale.search.node import Tree
from infscale.search.ops import Expand
from infscale.search.scheduler import ProblemRun
from infscale.search.strategy import Strategy
from infscale.tasks.base import Problem

if TYPE_CHECKING:
    from infscale.search.engine import Engine


@dataclass(frozen=True)
class BoundRun:
    """The engine as the scheduler's `Executor` in one `Engine.run` call: the strategy and the
    resumed problems fixed."""

    engine: Engine
    strategy: Strategy
    resume: dict[str, tuple[Tree, Ledger]]

    def start(self, index: int, problem: Problem) -> ProblemRun:
        return self.engine._start(index, problem, self.strategy, self.resume.get(problem.id))

    def execute(self, runs: Sequence[ProblemRun]) -> None:
        self.engine._execute(runs, self.strategy.max_depth)

    # --- the split form (SplitExecutor, search/scheduler.py) ---------------------------

    @property
    def max_batch(self) -> int:
        return self.engine.max_batch

    @property
    def batch_wait_s(self) -> float:
        return self.engine.batch_wait_ms / 1000

    @property
    def order_sensitive(self) -> bool:
        return self.engine.pool is not None

    def prepare(self, run: ProblemRun) -> tuple[str, list[Job]]:
        if isinstance(run.op, Expand):
            return "policy", self.engine._expand_jobs(run)
        return "reward", self.engine._score_jobs(run)

    def call(self, backend: str, batch: list[Job]) -> tuple[list[Any], float]:
        return self.engine._timed_call(backend, batch)

    def settle(self, backend: str, batch: list[Job], results: list[Any], seconds: float) -> None:
        self.engine._account(backend, batch, results, seconds)
        if backend == "policy":
            self.engine._expanded(batch, results, self.strategy.max_depth)
        else:
            self.engine._scored(batch, results)

    def complete(self, run: ProblemRun, jobs: list[Job]) -> None:
        self.engine._reply(run, jobs)
        self.engine._advance(run, run.reply)
