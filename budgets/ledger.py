"""The per-problem ledger: every token and FLOP a problem's search cost.

What is charged (`charge_prompt`, `charge_reward`) follows the reuse model (search/charges.py),
a function of the search tree alone; budgets, pools and `flops.total` read only that. What the
backends report having actually run (`observe_prompt`, `observe_reward`: a prefix cache's
hits and misses) is kept beside it, as `tokens.recomputed` and `flops.executed`.

A count that cannot be known (replayed samples carry no token counts, a backend without a
model spec has no FLOPs) turns the field to `None` for good: a partial sum would be a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infscale.budgets.model_spec import ModelSpec


def _add(total: float | None, amount: float | None) -> float | None:
    return None if total is None or amount is None else total + amount


@dataclass
class Ledger:
    policy: ModelSpec | None
    reward: ModelSpec | None
    samples: int = 0
    generated: int | None = 0
    prompt_computed: int | None = 0
    prompt_cached: int | None = 0
    reward_tokens: int | None = 0
    reward_cached: int | None = 0
    flops_decode: float | None = 0.0
    flops_prefill: float | None = 0.0
    flops_reward: float | None = 0.0
    observed_prompt: int | None = 0
    observed_reward: int | None = 0
    flops_prefill_executed: float | None = 0.0
    flops_reward_executed: float | None = 0.0

    def charge_prompt(self, computed: int | None, cached: int | None) -> None:
        self.prompt_computed = _add(self.prompt_computed, computed)
        self.prompt_cached = _add(self.prompt_cached, cached)
        self.flops_prefill = _add(self.flops_prefill, prefill_flops(self.policy, computed, cached))

    def charge_sample(self, context: int | None, tokens: int | None) -> None:
        self.samples += 1
        self.generated = _add(self.generated, tokens)
        self.flops_decode = _add(self.flops_decode, span_flops(self.policy, context, tokens))

    def charge_reward(self, computed: int | None, cached: int | None) -> None:
        """Reward-model tokens run after `cached` positions served from a prefix cache."""
        self.reward_tokens = _add(self.reward_tokens, computed)
        self.reward_cached = _add(self.reward_cached, cached)
        self.flops_reward = _add(self.flops_reward, prefill_flops(self.reward, computed, cached))

    def observe_prompt(self, computed: int | None, cached: int | None) -> None:
        """Prompt tokens a policy backend reports having computed after `cached` from its cache."""
        self.observed_prompt = _add(self.observed_prompt, computed)
        self.flops_prefill_executed = _add(self.flops_prefill_executed, prefill_flops(self.policy, computed, cached))

    def observe_reward(self, computed: int | None, cached: int | None) -> None:
        """Reward-model tokens a backend reports having run after `cached` cached positions."""
        self.observed_reward = _add(self.observed_reward, computed)
        self.flops_reward_executed = _add(self.flops_reward_executed, prefill_flops(self.reward, computed, cached))

    @property
    def recomputed(self) -> int | None:
        """Prompt and reward tokens the backends ran beyond what the reuse model charges: > 0
        where a cache was off or evicted, < 0 where a backend reused more than the model
        (a twin prompt of the same text, a prefix shared across problems, decode KV kept)."""
        observed = _add(self.observed_prompt, self.observed_reward)
        charged = _add(self.prompt_computed, self.reward_tokens)
        return None if observed is None or charged is None else observed - charged

    @property
    def flops_executed(self) -> float | None:
        """FLOPs of what the backends report having run (decode as charged)."""
        return _add(_add(self.flops_prefill_executed, self.flops_decode), self.flops_reward_executed)

    @property
    def flops_paper(self) -> float | None:
        """Kaplan's 2 * N * D over generated tokens, as Wu et al. and Snell et al. plot."""
        if self.policy is None or self.generated is None:
            return None
        return 2.0 * self.policy.n_nonembed * self.generated

    @property
    def flops_policy(self) -> float | None:
        return _add(self.flops_prefill, self.flops_decode)

    @property
    def flops_total(self) -> float | None:
        return _add(self.flops_policy, self.flops_reward)

    def tokens_record(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "prompt_computed": self.prompt_computed,
            "prompt_cached": self.prompt_cached,
            "reward": self.reward_tokens,
            "reward_cached": self.reward_cached,
            "recomputed": self.recomputed,
        }

    def flops_record(self) -> dict[str, Any]:
        return {
            "policy_decode": self.flops_decode,
            "policy_prefill": self.flops_prefill,
            "reward": self.flops_reward,
            "paper": self.flops_paper,
            "total": self.flops_total,
            "executed": self.flops_executed,
        }


def span_flops(spec: ModelSpec | None, context: int | None, tokens: int | None) -> float | None:
    if spec is None or context is None or tokens is None:
        return None
    return spec.flops_span(context, tokens)


def prefill_flops(spec: ModelSpec | None, computed: int | None, cached: int | None) -> float | None:
    """Prefill of the uncached suffix: those tokens still attend to the cached prefix
    (prompt prefill of a policy, or a reward model's forward pass over a path)."""
    if spec is None or computed is None or cached is None:
        return None
    return spec.flops_span(cached, computed)
