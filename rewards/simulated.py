"""A simulated PRM: a step's score is drawn from one distribution if the chain is still
right after that step and from another if it has gone wrong (at or before it); a
truncated step counts as wrong.

The two distributions set the PRM's quality: `const` 1 / `const` 0 is a perfect verifier,
the same distribution for both is pure noise. Scores are seeded by the trajectory's text,
so the same steps always get the same scores and different samples get their own noise.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from infscale.budgets.model_spec import ModelSpec
from infscale.search.backends import RewardModel, ScoreRequest
from infscale.tasks.base import derive_seed
from infscale.tasks.simulated import count_tokens, parse_prompt, step_values


def _draw(dist: Mapping[str, Any], rng: random.Random) -> float:
    kind = dist.get("dist", "beta")
    if kind == "const":
        return float(dist["value"])
    if kind == "beta":
        return rng.betavariate(dist["a"], dist["b"])
    if kind == "uniform":
        return rng.uniform(dist.get("low", 0.0), dist.get("high", 1.0))
    raise ValueError(f"unknown score distribution '{kind}' (known: const, beta, uniform)")


class SimulatedPRM(RewardModel):
    outcome = False
    incremental = False

    def __init__(
        self,
        name: str,
        correct: Mapping[str, Any],
        wrong: Mapping[str, Any],
        model: Mapping[str, Any] | None,
    ):
        self.name = name
        self.correct, self.wrong = dict(correct), dict(wrong)
        self.spec = ModelSpec.from_config(model) if model else None

    def count_tokens(self, request: ScoreRequest) -> int:
        return count_tokens(request.prompt) + sum(count_tokens(s) + 1 for s in request.steps)

    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        results = []
        for request in requests:
            spec, _, _ = parse_prompt(request.prompt)
            truth = spec.truth()
            scores, on_track, prefix = [], True, spec.key
            for i, step in enumerate(request.steps):
                values = step_values(step)
                on_track = on_track and len(values) == 1 and i < len(truth) and values[0] == truth[i]
                prefix = derive_seed(prefix, step)
                scores.append(_draw(self.correct if on_track else self.wrong, random.Random(prefix)))
            results.append(scores)
        return results
