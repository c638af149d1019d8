"""`allocator=uniform`: the same configuration for every problem, with the width n as large as
the pool allows (worst case), at most `max_n`. One wave; the baseline every allocator is
compared with. With a pool of exactly n problems' worst case it is the fixed run at width n.
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

    def width(self, runner: WaveRunner, states: list[ProblemState]) -> int:
        """The largest n <= max_n whose worst case, for every problem, fits in the pool."""
        pool = runner.pool

        def fits(n: int) -> bool:
            if pool.total_flops is not None and sum(runner.worst_flops(s, n) for s in states) > pool.total_flops:
                return False
            return pool.total_tokens is None or sum(n * runner.cost(s).tokens for s in states) <= pool.total_tokens

        low, high = 0, self.max_n
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if fits(mid) else (low, mid - 1)
        return low

    def plan(self, runner: WaveRunner, states: list[ProblemState]) -> str:
        return (
            f"n={self.width(runner, states)} solutions of every problem "
            f"(allocator=uniform: the widest the pool affords worst case, at most allocator.max_n={self.max_n})"
        )

    def check(self, runner: WaveRunner, states: list[ProblemState]) -> None:
        if self.width(runner, states) == 0:
            raise ValueError(
                f"the pool ({runner.pool_text()}) affords no solution for each of the {len(states)} problems "
                f"(one each costs {sum(runner.worst_flops(s, 1) for s in states):.4g} FLOPs worst case)"
            )

    def grants(self, runner: WaveRunner, states: list[ProblemState], wave: int) -> dict[str, int]:
        if wave == 0:
            n = self.width(runner, states)
            for state in states:
                state.estimate = {"n": n}
            return {s.problem.id: n for s in states if s.open}
        for state in states:
            if state.open:
                state.close(f"uniform n={sum(state.grants)}")
        return {}
