"""The task's exact step checker as a PRM: the upper bound every learned PRM is compared with.

A step scores 1 when it and every step before it are right (ProcessBench's first-error
convention) and 0 otherwise. With `label_noise = p`, each score is flipped with probability
p; the flip of step i depends only on (seed, prompt, steps 1..i), so a trajectory rescored
after it grows keeps the scores of its earlier steps.
"""

from __future__ import annotations

import hashlib
from typing import Any

from infscale.search.backends import ScoreRequest
from infscale.tasks.base import Problem, StepCheckingTask


class OraclePRM:
    name = "oracle"
    spec = None
    outcome = False

    def __init__(self, task: Any, label_noise: float, seed: int) -> None:
        if not isinstance(task, StepCheckingTask):
            raise ValueError(f"reward=oracle needs a task with an exact step checker; task '{task.name}' has none")
        if not 0.0 <= label_noise <= 1.0:
            raise ValueError(f"reward.label_noise must lie in [0, 1], got {label_noise}")
        self.task, self.label_noise, self.seed = task, float(label_noise), int(seed)
        self._problems = {p.prompt: p for p in task.problems()}

    def _problem(self, prompt: str) -> Problem:
        return self._problems.get(prompt) or Problem(id="", prompt=prompt, reference="")

    def _flip(self, prompt: str, steps: tuple[str, ...], i: int) -> bool:
        if self.label_noise == 0.0:
            return False
        key = "\x00".join((str(self.seed), prompt, *steps[: i + 1])).encode()
        u = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2.0**64
        return u < self.label_noise

    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        scores = []
        for request in requests:
            labels = self.task.process_labels(self._problem(request.prompt), list(request.steps))
            scores.append([float(ok != self._flip(request.prompt, request.steps, i)) for i, ok in enumerate(labels)])
        return scores

    def count_tokens(self, request: ScoreRequest) -> int:
        return 0
