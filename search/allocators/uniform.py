"""`allocator=uniform`: the same configuration for every problem, as wide as the pool pays for;
the baseline every allocator is compared with, so it spends the pool as they do.

Each wave water-fills: the widest n (at most `max_n`) such that bringing every open problem to
n solutions fits, at its expected cost, in what is left of the pool, then one more solution
each, fewest solutions first (then problem order), while that fits too. Before anything is
drawn the expected cost is the worst case, so the first wave is the fixed run at the widest n
the pool pays for at worst case (record for record); later waves use the measured mean cost
of a solution and top up until the pool is spent. The problems with fewest solutions are
granted (and issued) first, so where the pool's hard cap cuts a wave short, it cuts the
widest problems: every problem ends within a solution or two of the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from infscale.search.allocators.base import Allocator, positive_int
from infscale.search.allocators.state import ProblemState
from infscale.search.allocators.waves import WaveRunner


@dataclass
class Uniform(Allocator):
    max_n: int

    def __post_init__(self) -> None:
        positive_int("max_n", self.max_n)

    def plan(self, runner: WaveRunner, states: list[ProblemState]) -> str:
        return (
            f"n={self.level(runner, states)} solutions of every problem at first, then wider alike until the pool "
            f"is spent (allocator=uniform: first the widest n the pool pays for at worst case, then at the "
            f"measured cost of a solution; at most allocator.max_n={self.max_n})"
        )

    def level(self, runner: WaveRunner, states: list[ProblemState]) -> int:
        """The widest n <= max_n such that bringing every open problem to n solutions is
        expected to fit in what is left of the pool."""
        room, todo = runner.room(), [s for s in states if s.open]

        def fits(n: int) -> bool:
            return sum(runner.expected(s, max(n - len(s.samples), 0)) for s in todo) <= room

        low, high = min((len(s.samples) for s in todo), default=0), self.max_n
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if fits(mid) else (low, mid - 1)
        return low

    def grants(self, runner: WaveRunner, states: list[ProblemState], wave: int) -> dict[str, int]:
        for state in states:
            if state.open and len(state.samples) >= self.max_n:
                state.close(f"uniform n={len(state.samples)} (max_n)")
        todo = [s for s in states if s.open]
        n = self.level(runner, todo)
        more = {s.problem.id: max(n - len(s.samples), 0) for s in todo}
        expected = sum(runner.expected(s, more[s.problem.id]) for s in todo)
        for state in sorted(todo, key=lambda s: len(s.samples) + more[s.problem.id]):
            k = more[state.problem.id]
            extra = runner.expected(state, k + 1) - runner.expected(state, k)
            if len(state.samples) + k < self.max_n and expected + extra <= runner.room():
                more[state.problem.id] = k + 1
                expected += extra
        fewest = sorted(todo, key=lambda s: len(s.samples))  # served first: a cut falls on the widest
        grants = {s.problem.id: more[s.problem.id] for s in fewest if more[s.problem.id]}
        for state in todo:
            state.estimate = {"n": n}
            if not grants:
                state.close(f"uniform n={len(state.samples)}")
        return grants
