"""Backends for the fast suite that exercise what the simulated ones never do.

- `PrefixCachePolicy` wraps a policy with a prefix cache of the prompts it has computed (as
  vLLM's automatic prefix caching does, at token rather than block granularity): a request
  whose prompt extends an earlier prompt reports that earlier prompt's tokens as cached and
  only the rest as computed. So `make test` charges cached tokens, not only `make test-vllm`.
- `full_length_policy` is the simulated policy with every step exactly `max_step_tokens`
  long at temperature 0: each sample then costs exactly the worst case the engine reserved
  for it, so a budget's tightness can be checked to the token.
"""

from __future__ import annotations

from dataclasses import replace

from infscale.experiments.app.build import load
from infscale.policies.simulated import SimulatedPolicy
from infscale.rewards.simulated import SimulatedPRM
from infscale.search.backends import GenerationRequest, GenerationResult
from infscale.tasks.simulated import SimulatedTask
from tests.engine_helpers import MODEL


def simulated_task(**options) -> SimulatedTask:
    return load("task", "simulated", **options)


def simulated_policy(**options) -> SimulatedPolicy:
    """The simulated policy (conf/policy/simulated.yaml) with the test model's FLOP spec."""
    return load("policy", "simulated", model=MODEL, **options)


def simulated_prm(**options) -> SimulatedPRM:
    return load("reward", "simulated", model=MODEL, **options)


def full_length_policy(step_tokens: int) -> SimulatedPolicy:
    return simulated_policy(tokens_per_step=float(step_tokens))


class PrefixCachePolicy:
    def __init__(self, inner):
        self.inner, self.name, self.spec = inner, f"{inner.name}+prefix-cache", inner.spec
        self.computed: list[str] = []  # every prompt computed so far, in call order

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        results = []
        for request, result in zip(requests, self.inner.generate(requests)):
            prefixes = [p for p in self.computed if request.prompt.startswith(p)]
            cached = max((self.count_tokens(p) for p in prefixes), default=0)
            total = self.count_tokens(request.prompt)
            self.computed.append(request.prompt)
            results.append(replace(result, prompt_computed=total - cached, prompt_cached=cached))
        return results
