"""Worst-case costs: the same worst case the engine reserves while a call is in flight.

One full solution of a problem costs at most its prompt's prefill (once per wave's expansion
of the root, and under `compute.reuse=prefix` only in the first: search/charges.py) plus
`policy.max_tokens` decoded tokens after the prompt;
a scored one adds the reward model reading at most the prompt, the solution and one separator
token per step. Allocators plan with expected costs (`WaveRunner.measured`); the worst case
is their estimate only before anything is measured, and the floor a pool must clear to pay
for any solution at all. The engine enforces the pool whatever a plan says.
"""

from __future__ import annotations

from dataclasses import dataclass

from infscale.budgets.ledger import prefill_flops, span_flops
from infscale.search.engine import Engine
from infscale.tasks.base import Problem


@dataclass(frozen=True)
class SampleCost:
    prefill: float | None  # per expansion of the root
    each: float | None  # per sample: decode worst case (+ reward worst case if scored)
    tokens: int  # generated tokens per sample, worst case

    def flops(self, n: int, prefilled: bool) -> float | None:
        """`n` more solutions in one expansion; `prefilled`: its prompt is charged nothing."""
        if n <= 0:
            return 0.0
        if self.prefill is None or self.each is None:
            return None
        return (0.0 if prefilled else self.prefill) + n * self.each


def worst_case(engine: Engine, problem: Problem, scored: bool, max_depth: int) -> SampleCost:
    policy, limit = engine.policy, engine.sampling.max_tokens
    length = policy.count_tokens(problem.prompt)
    each = span_flops(policy.spec, length, limit)
    if scored and engine.reward is not None:
        reward_spec = engine.reward.spec
        each = (
            None
            if each is None or reward_spec is None
            else each + span_flops(reward_spec, 0, length + limit + max_depth)
        )
    return SampleCost(prefill_flops(policy.spec, length, 0), each, limit)
