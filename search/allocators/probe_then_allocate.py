"""`allocator=probe_then_allocate`: a cheap probe, then the rest of the pool where a solution
is expected to change the most decisions per FLOP.

Wave 0 draws `probe_n` solutions of every problem (a problem whose probe the pool cut short
gets the rest of it first in the next wave). Each later wave re-estimates every open problem
from all its solutions (search/allocators/difficulty.py) and

- closes the unanimous (every solution the same answer), the settled (flip probability
  below `min_flip`), those at `max_n`, and caps the hopeless: a problem whose top answer
  holds at most `hopeless_agreement` of its solutions (no answer stands out) stops at
  `hopeless_cap` solutions;
- ranks the rest by expected gain per FLOP, flip probability x agreement / measured cost of
  one solution (a split between two strong answers first, a spread over many weak ones
  later: more samples help a vote only where one of its leaders is likely right), and grants
  `step` more solutions down that list while their expected cost (the problem's measured
  mean cost of a solution) fits in `wave_fraction` of what is left of the pool, so later
  waves re-estimate with what earlier ones found. The pool's hard cap is the engine's
  reservation, not this plan.

It stops when nothing is open, nothing fits, or after `max_waves` waves.
"""

from __future__ import annotations

from dataclasses import dataclass

from infscale.search.allocators.base import Allocator, positive_int, unit_interval
from infscale.search.allocators.difficulty import AnswerGroups, estimate
from infscale.search.allocators.state import ProblemState
from infscale.search.allocators.waves import WaveRunner


@dataclass
class ProbeThenAllocate(Allocator):
    probe_n: int
    step: int
    max_n: int
    wave_fraction: float
    min_flip: float
    hopeless_cap: int
    hopeless_agreement: float
    prior: float
    max_waves: int

    def __post_init__(self) -> None:
        for key in ("probe_n", "step", "max_n", "hopeless_cap", "max_waves"):
            positive_int(key, getattr(self, key))
        for key in ("wave_fraction", "min_flip", "hopeless_agreement"):
            unit_interval(key, getattr(self, key))
        if self.wave_fraction == 0:
            raise ValueError("allocator.wave_fraction must be > 0")
        if isinstance(self.prior, bool) or not isinstance(self.prior, (int, float)) or self.prior <= 0:
            raise ValueError(f"allocator.prior must be a positive number, got {self.prior!r}")
        if self.probe_n > self.max_n:
            raise ValueError(f"allocator.probe_n={self.probe_n} exceeds allocator.max_n={self.max_n}")

    def plan(self, runner: WaveRunner, states: list[ProblemState]) -> str:
        return (
            f"{self.probe_n} to {self.max_n} solutions per problem (allocator=probe_then_allocate: a probe of "
            f"allocator.probe_n={self.probe_n}, then up to allocator.step={self.step} more per wave where "
            f"the answers are split, at most allocator.max_n={self.max_n})"
        )

    def grants(self, runner: WaveRunner, states: list[ProblemState], wave: int) -> dict[str, int]:
        if wave == 0:
            return {s.problem.id: self.probe_n for s in states if s.open and not s.samples}
        strategy, probing = runner.strategy, []
        for state in states:
            if not state.open:
                continue
            samples = state.samples
            if len(samples) < self.probe_n:
                probing.append(state)  # the pool cut its probe short
                continue
            if state.estimate.get("samples") == len(samples):
                continue  # nothing new since its last estimate
            groups = state.cache.setdefault("groups", AnswerGroups(strategy.task))
            state.estimate = estimate(
                samples, strategy.selector, strategy.aggregation, strategy.task, self.prior, groups
            )
            self._maybe_close(state)
        candidates = [s for s in states if s.open and len(s.samples) >= self.probe_n]
        if wave >= self.max_waves:
            for state in probing + candidates:
                state.close("max_waves")
            return {}
        room = runner.room()
        allowance = self.wave_fraction * room
        cost = {s.problem.id: runner.measured(s) for s in probing + candidates}
        candidates.sort(key=lambda s: -gain(s.estimate) / cost[s.problem.id])
        grants, expected = {}, 0.0
        for state in probing + candidates:
            pid, finishing = state.problem.id, len(state.samples) < self.probe_n
            n = self.probe_n - len(state.samples) if finishing else min(self.step, self.max_n - len(state.samples))
            more = n * cost[pid]
            if expected + more > room:
                continue
            if not finishing and grants and expected + more > allowance:
                break
            grants[pid] = n
            expected += more
        if not grants:
            for state in probing + candidates:
                state.close("pool")
        return grants

    def _maybe_close(self, state: ProblemState) -> None:
        est = state.estimate
        n = est["samples"]
        if est["agreement"] >= 1.0 - 1e-9 and n >= self.probe_n:
            state.close("unanimous")
        elif n >= self.hopeless_cap and est["agreement"] <= self.hopeless_agreement:
            state.close("hopeless")
        elif n >= self.max_n:
            state.close("max_n")
        elif est["flip"] < self.min_flip:
            state.close("settled")


def gain(est: dict) -> float:
    """Expected decisions changed for the better per solution, up to a constant: the chance the
    vote flips, weighted by the leading answer's share."""
    return est["flip"] * est["agreement"]
