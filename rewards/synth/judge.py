"""Judge labels: a stronger model checks each step and names the first wrong one.

In the toy and simulated worlds the judge is the exact step checker degraded at a known
rate: each step's verdict is flipped with probability `miss_rate` (a wrong step passed) or
`false_alarm_rate` (a right step flagged), seeded per (seed, item, step). We use it rather
than the larger toy policy as a verifier because the toy policies are trained to solve, not
to check, and an LLM-as-judge needs exactly that skill; a degraded checker gives a judge
whose error profile is set and measured, and whose errors, like a real judge's, are not
those of the MC completer. The checker reads steps locally where the task can (a step that
correctly continues from a wrong value looks right), so a missed error lets the judge's
first error drift later, as it does for a judge that overlooks a mistake.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from infscale.rewards.eval import truth
from infscale.tasks.base import Problem, StepCheckingTask, Task, derive_seed


@dataclass(frozen=True)
class CheckerJudge:
    miss_rate: float = 0.1
    false_alarm_rate: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("miss_rate", "false_alarm_rate"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"judge.{key} must lie in [0, 1], got {value!r}")

    def verdicts(self, task: Task, problem: Problem, steps: Sequence[str], item_id: str) -> list[bool]:
        """The judge's per-step verdicts (True: looks right)."""
        if not isinstance(task, StepCheckingTask):
            raise ValueError(f"judge=checker needs a task that can check steps, not '{task.name}'")
        exact = list(task.label_steps(problem, list(steps)))
        out = []
        for i, ok in enumerate(exact):
            rng = random.Random(derive_seed("judge", self.seed, item_id, i))
            flip = rng.random() < (self.false_alarm_rate if ok else self.miss_rate)
            out.append(ok != flip)
        return out

    def first_error(self, task: Task, problem: Problem, steps: Sequence[str], item_id: str) -> int:
        return truth.first_error(self.verdicts(task, problem, steps, item_id))
