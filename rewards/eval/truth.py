"""Ground-truth step labels where a task can check steps (the toy world, the simulated world).

`process_labels(task, problem, steps)` says for each step whether the solution is still
right after it (ProcessBench's convention: everything from the first error on is wrong), or
returns None when the task cannot check steps (GSM8K, MATH500).
"""

from __future__ import annotations

from collections.abc import Sequence

from infscale.tasks.base import Problem, StepCheckingTask, Task


def can_label(task: Task) -> bool:
    return isinstance(task, StepCheckingTask)


def process_labels(task: Task, problem: Problem, steps: Sequence[str]) -> list[bool] | None:
    return list(task.process_labels(problem, list(steps))) if isinstance(task, StepCheckingTask) else None


def first_error(labels: Sequence[bool]) -> int:
    """ProcessBench label from per-step labels: index of the first wrong step, or -1."""
    for i, ok in enumerate(labels):
        if not ok:
            return i
    return -1
