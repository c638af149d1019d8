"""The task's exact step checker as a PRM, optionally degraded and charged as a real PRM.

A step scores 1 when it and every step before it are right (ProcessBench's first-error
convention) and 0 otherwise. Two dials make it a verifier of chosen quality
(`reward=noisy_oracle`):

- `label_noise = p`: each 0/1 label is flipped with probability p;
- `score_noise = sigma`: Gaussian noise of standard deviation sigma is added to the (possibly
  flipped) label and the score clipped to [0, 1]; a step then sits on the wrong side of 0.5
  with probability `Phi(-0.5 / sigma)`, and scores of right and wrong steps overlap.

`expected_error(p, sigma)` is the probability that a step's score lies on the wrong side of
0.5. All randomness of step i is a hash of (seed, prompt, steps 1..i), so a trajectory
rescored after it grows keeps the scores of its earlier steps and runs are reproducible.

`cost_as` names a transformers PRM's reward config (e.g. `toy_prm`): the oracle is then
charged that PRM's reward tokens and FLOPs for every scoring call (its `count_tokens` and
`spec` are that PRM's, see `rewards/prm_cost.py`), so "a verifier this good at that
model's cost" can be placed on a FLOP axis. It then also scores as that PRM does: new steps
only where the PRM's config says `incremental: true`, the path scored before served from
its prefix cache where `cache_mb` > 0 (each reply says what was computed and what cached).
Without it the oracle costs nothing and rescores whole paths.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any

from infscale.search.backends import RewardModel, ScoreRequest, ScoreResult
from infscale.tasks.base import Problem, StepCheckingTask

_NORMAL = NormalDist()


def expected_error(label_noise: float, score_noise: float) -> float:
    """P(score on the wrong side of 0.5) for one step: flipped and not pushed back, or not
    flipped and pushed across (ties at exactly 0.5 have probability 0)."""
    across = _NORMAL.cdf(-0.5 / score_noise) if score_noise > 0 else 0.0
    return label_noise * (1.0 - across) + (1.0 - label_noise) * across


class OraclePRM(RewardModel):
    outcome = False

    def __init__(
        self,
        task: Any,
        *,
        name: str,
        label_noise: float,
        score_noise: float,
        seed: int,
        cost_as: str | Mapping[str, Any] | None,
    ) -> None:
        if not isinstance(task, StepCheckingTask):
            raise ValueError(f"reward=oracle needs a task with an exact step checker; task '{task.name}' has none")
        if not 0.0 <= label_noise <= 1.0:
            raise ValueError(f"reward.label_noise must lie in [0, 1], got {label_noise}")
        if not score_noise >= 0.0:
            raise ValueError(f"reward.score_noise must be >= 0, got {score_noise}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"reward.seed must be an integer, got {seed!r}")
        self.task, self.name, self.seed = task, name, seed
        self.label_noise, self.score_noise = float(label_noise), float(score_noise)
        self._problems = {p.prompt: p for p in task.problems()}
        self.cost = None
        if cost_as is not None:
            from infscale.rewards.prm_cost import PRMInput

            self.cost = PRMInput.from_reward_config(cost_as, task)
        self.spec = None if self.cost is None else self.cost.spec
        self.incremental = self.cost is not None and self.cost.incremental

    def _problem(self, prompt: str) -> Problem:
        return self._problems.get(prompt) or Problem(id="", prompt=prompt, reference="")

    def _uniform(self, salt: str, prompt: str, steps: tuple[str, ...], i: int) -> float:
        """A uniform in (0, 1) fixed by (seed, salt, prompt, steps 1..i)."""
        key = "\x00".join((str(self.seed), salt, prompt, *steps[: i + 1])).encode()
        return (int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") + 0.5) / 2.0**64

    def _score(self, ok: bool, prompt: str, steps: tuple[str, ...], i: int) -> float:
        if self.label_noise > 0.0 and self._uniform("flip", prompt, steps, i) < self.label_noise:
            ok = not ok
        value = float(ok)
        if self.score_noise > 0.0:
            value += self.score_noise * _NORMAL.inv_cdf(self._uniform("noise", prompt, steps, i))
        return min(1.0, max(0.0, value))

    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        """Each request's scores of its steps after the `known` ones (a step's score depends
        on the steps up to it only, so the known ones stand as they were)."""
        scores = []
        for request in requests:
            labels = self.task.process_labels(self._problem(request.prompt), list(request.steps))
            new = [self._score(labels[i], request.prompt, request.steps, i) for i in range(request.known, len(labels))]
            scores.append(new if self.cost is None else ScoreResult(new, *self.cost.charge(request)))
        return scores

    def count_tokens(self, request: ScoreRequest) -> int:
        """The named PRM's input length (`cost_as`), else 0: the bare checker reads nothing."""
        return 0 if self.cost is None else self.cost.count_tokens(request)

    def prefix_tokens(self, request: ScoreRequest) -> int:
        """The named PRM's input positions fixed by the request's known steps (charges.py)."""
        return 0 if self.cost is None else self.cost.prefix_tokens(request)
