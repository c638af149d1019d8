"""A simulated policy: seeded coin flips instead of a network, with real-looking costs.

Each step of a chain goes wrong with a probability of its own (a per-problem, per-step
difficulty around `step_error`, spread by `difficulty_spread` on the logit scale), so
some steps are hard for every sample and greedy decoding is not an oracle. A wrong step
adds a common mistake (small offsets, the first ones likelier), and the chain continues
from the wrong value, so wrong answers cluster as they do for real models. Temperature
sharpens or flattens both choices; temperature 0 takes the likelier branch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from infscale.budgets.model_spec import ModelSpec
from infscale.search.backends import GenerationRequest, GenerationResult, Sample
from infscale.tasks.base import derive_seed
from infscale.tasks.simulated import MODULUS, ChainSpec, count_tokens, parse_prompt, step_values

MISTAKES = (1, -1, 10, -10, 2, -2, 100, 5)


@lru_cache(maxsize=1 << 16)
def hardness(key: int, step: int) -> float:
    """A fixed standard-normal difficulty of one step of one problem."""
    return random.Random(derive_seed("hardness", key, step)).gauss(0.0, 1.0)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


class SimulatedPolicy:
    def __init__(
        self,
        name: str,
        step_error: float,
        difficulty_spread: float,
        tokens_per_step: float,
        mistake_decay: float,
        model: Mapping[str, Any] | None,
    ):
        if not 0 < step_error < 1:
            raise ValueError(f"policy.step_error must lie in (0, 1), got {step_error!r}")
        self.name = name
        self.step_error, self.difficulty_spread = step_error, difficulty_spread
        self.tokens_per_step, self.mistake_decay = tokens_per_step, mistake_decay
        self.spec = ModelSpec.from_config(model) if model else None

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        return [self._generate(request) for request in requests]

    def _generate(self, request: GenerationRequest) -> GenerationResult:
        spec, _, solution = parse_prompt(request.prompt)
        values = step_values(solution)
        samples = [self._sample(spec, values, request, request.seed + j) for j in range(request.n)]
        return GenerationResult(samples, prompt_computed=count_tokens(request.prompt), prompt_cached=0)

    def _sample(self, spec: ChainSpec, values: list[int], request: GenerationRequest, seed: int) -> Sample:
        rng = random.Random(seed)
        value = values[-1] if values else spec.start()
        text, used = "", 0
        for step in range(len(values) + 1, spec.steps + 1):
            value = (spec.transition(value, step) + self._mistake(spec, step, request.temperature, rng)) % MODULUS
            tokens = self._step_tokens(request.temperature, rng)
            if used + tokens > request.max_tokens:
                return Sample(text + f"Step {step}: ... #{request.max_tokens - used}", request.max_tokens, "length")
            used += tokens
            if step == spec.steps:
                return Sample(text + f"Step {step}: v={value}. The answer is {value}. #{tokens}", used, "end")
            text += f"Step {step}: v={value} #{tokens}\n"
            if request.until == "step":
                return Sample(text, used, "step")
        return Sample(text, used, "end")

    def _mistake(self, spec: ChainSpec, step: int, temperature: float, rng: random.Random) -> int:
        logit = _logit(self.step_error) + self.difficulty_spread * hardness(spec.key, step)
        if temperature == 0:
            return MISTAKES[0] if logit > 0 else 0
        p_error = 1 / (1 + math.exp(-logit / temperature))
        if rng.random() >= p_error:
            return 0
        weights = [self.mistake_decay ** (k / temperature) for k in range(len(MISTAKES))]
        return rng.choices(MISTAKES, weights=weights)[0]

    def _step_tokens(self, temperature: float, rng: random.Random) -> int:
        """Step lengths vary like a real model's: a gamma around `tokens_per_step`."""
        if temperature == 0:
            return int(self.tokens_per_step)
        return max(4, round(rng.gammavariate(4.0, self.tokens_per_step / 4.0)))
