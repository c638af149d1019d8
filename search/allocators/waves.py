"""Runs an allocator's waves on the engine against a data-set pool.

Each wave: the allocator grants more solutions to some open problems, sized by their
expected cost (`measured`: the mean cost of a solution so far); the engine draws them for all
granted problems at once (batched as any run), continuing each problem's tree and ledger and
reserving each call's worst case from the pool only while the call is in flight (so the pool,
not the plan, is the hard cap: a grant the remainder cannot cover is cut); the problem states
are updated and handed to `on_wave` (the run saves them). The waves end when the allocator
grants nothing, or a wave draws nothing (the pool is spent). A wave's problems are issued in
the order of its grants, so where the pool runs out mid-wave it cuts the allocator's last
grants, not the problems that come last in the data set. Time spent deciding is measured
apart from the engine's, as the scheduling overhead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from infscale.search.allocators.base import Allocator
from infscale.search.allocators.cost import SampleCost, worst_case
from infscale.search.allocators.state import ProblemState
from infscale.search.allocators.topup import TopUp
from infscale.search.engine import Engine
from infscale.search.ops import Decision
from infscale.search.strategies.best_of_n import BestOfN
from infscale.search.strategy import Strategy


class WaveRunner:
    def __init__(self, engine: Engine, strategy: Strategy, allocator: Allocator):
        if engine.pool is None:
            raise ValueError("an allocator needs a data-set pool: set budget.total_flops or budget.total_tokens")
        if type(strategy) is not BestOfN:
            raise ValueError(
                f"allocators split full solutions of best_of_n (any selector); strategy "
                f"'{type(strategy).__name__}' is not supported"
            )
        self.engine, self.strategy, self.allocator = engine, strategy, allocator
        self.pool = engine.pool
        self.scored = strategy.selector != "majority"
        self.overhead_s = 0.0
        self.typical: float | None = None  # mean cost of a solution over the run so far (`observe`)
        self._costs: dict[str, SampleCost] = {}

    def cost(self, state: ProblemState) -> SampleCost:
        """Worst case of one more solution of this problem (cached per problem)."""
        pid = state.problem.id
        if pid not in self._costs:
            self._costs[pid] = worst_case(self.engine, state.problem, self.scored, self.strategy.max_depth)
        return self._costs[pid]

    def worst_flops(self, state: ProblemState, n: int) -> float:
        prefilled = self.engine.reuse == "prefix" and state.tree.root.expansions > 0
        flops = self.cost(state).flops(n, prefilled)
        if flops is None and self.pool.total_flops is not None:
            raise ValueError("budget.total_flops needs FLOP counts, and this backend reports none")
        return flops or 0.0

    def pool_text(self) -> str:
        caps = {"total_flops": self.pool.total_flops, "total_tokens": self.pool.total_tokens}
        return ", ".join(f"budget.{k}={v:.4g}" for k, v in caps.items() if v is not None)

    def left(self) -> tuple[float | None, int | None]:
        return self.pool.left_flops, self.pool.left_tokens

    def room(self) -> float:
        """What is left of the pool in the unit allocators plan in: FLOPs if it counts FLOPs, else
        generated tokens (between waves nothing is in flight, so nothing is reserved)."""
        flops, tokens = self.left()
        return max(flops if flops is not None else float(tokens), 0.0)

    def spent(self, state: ProblemState) -> float:
        """What this problem has spent so far, in the planning unit."""
        ledger = state.ledger
        return (ledger.flops_total if self.pool.total_flops is not None else ledger.generated) or 0.0

    def observe(self, states: list[ProblemState]) -> None:
        """Update `typical`, the mean cost of one solution over every problem measured so far."""
        samples = sum(s.ledger.samples for s in states)
        spent = sum(self.spent(s) for s in states)
        self.typical = spent / samples if samples and spent else None

    def measured(self, state: ProblemState) -> float:
        """What one more solution of this problem is expected to cost, in the planning unit."""
        return self.expected(state, 1)

    def expected(self, state: ProblemState, n: int) -> float:
        """What `n` more solutions of this problem are expected to cost, in the planning unit:
        n x its mean so far; before its first, n x the run's mean so far (`typical`); before
        any at all, their worst case (one prefill per call of up to `engine.max_batch`)."""
        samples, spent = state.ledger.samples, self.spent(state)
        if samples and spent:
            return n * spent / samples
        if self.typical is not None:
            return n * self.typical
        return self.worst_flops(state, n) if self.pool.total_flops is not None else float(n * self.cost(state).tokens)

    def check(self, states: list[ProblemState]) -> None:
        if not states:
            return
        cheapest = min(states, key=lambda s: self.worst_flops(s, 1))
        one = self.worst_flops(cheapest, 1)
        if self.pool.total_flops is not None and self.pool.total_flops < one:
            raise ValueError(
                f"budget.total_flops={self.pool.total_flops:.4g} is below one problem's minimum cost "
                f"(one solution of problem {cheapest.problem.id}: {one:.4g} FLOPs worst case)"
            )
        if self.pool.total_tokens is not None and self.pool.total_tokens < self.cost(cheapest).tokens:
            raise ValueError(
                f"budget.total_tokens={self.pool.total_tokens} is below one problem's minimum cost "
                f"(one solution: {self.cost(cheapest).tokens} tokens worst case)"
            )
        self.allocator.check(self, states)

    def run(self, states: list[ProblemState], wave: int, on_wave: Callable[[int], None]) -> int:
        """Run waves from `wave` on until the allocator is done; return the next wave number."""
        by_id = {s.problem.id: s for s in states}
        while True:
            started = time.perf_counter()
            self.observe(states)
            grants = {pid: n for pid, n in self.allocator.grants(self, states, wave).items() if n > 0}
            self.overhead_s += time.perf_counter() - started
            if not grants:
                break
            topup = self._topup(grants)
            todo = [by_id[pid] for pid in grants]  # in the allocator's order: a cut pool cuts the last
            drawn = 0
            for state in todo:
                state.grants.append(grants[state.problem.id])
                drawn -= len(state.tree.root.children)
            resume = {s.problem.id: (s.tree, s.ledger) for s in todo}
            for outcome in self.engine.run([s.problem for s in todo], topup, resume=resume):
                state = by_id[outcome.problem.id]
                drawn += len(state.tree.root.children)
                state.wall_s += outcome.wall_s
            wave += 1
            if drawn == 0:  # the pool could not pay for a single solution: it ends every open problem
                for state in states:  # (not only this wave's: a resumed run would grant the others again)
                    if state.open:
                        state.close("pool")
            on_wave(wave)
            if drawn == 0:
                break
        return wave

    def _topup(self, grants: dict[str, int]) -> TopUp:
        s = self.strategy
        return TopUp(
            task=s.task,
            n=max(grants.values(), default=1),
            selector=s.selector,
            aggregation=s.aggregation,
            max_depth=s.max_depth,
            unanswered=s.unanswered,
            grants=grants,
        )

    def decide(self, state: ProblemState) -> Decision:
        """The problem's decision over every solution it has drawn."""
        return self._topup({}).decide_all(state.tree.root)
