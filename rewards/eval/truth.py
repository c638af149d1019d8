"""Ground-truth step labels where a task can check steps (the toy world, the simulated world).

`process_labels(task, problem, steps)` says for each step whether the solution is still
right after it (ProcessBench's convention: everything from the first error on is wrong), or
returns None when the task cannot check steps (GSM8K, MATH500).
"""

from __future__ import annotations

from collections.abc import Sequence

from infscale.tasks.base import Problem, Task


def can_label(task: Task) -> bool:
    return hasattr(task, "process_labels") or task.name == "simulated"


def process_labels(task: Task, problem: Problem, steps: Sequence[str]) -> list[bool] | None:
    if hasattr(task, "process_labels"):
        return list(task.process_labels(problem, list(steps)))
    if task.name == "simulated":
        return _simulated_labels(problem, steps)
    return None


def first_error(labels: Sequence[bool]) -> int:
    """ProcessBench label from per-step labels: index of the first wrong step, or -1."""
    for i, ok in enumerate(labels):
        if not ok:
            return i
    return -1


def _simulated_labels(problem: Problem, steps: Sequence[str]) -> list[bool]:
    from infscale.tasks.simulated import parse_prompt, step_values

    spec, _, _ = parse_prompt(problem.prompt)
    truth, labels, ok = spec.truth(), [], True
    for i, step in enumerate(steps):
        values = step_values(step)
        ok = ok and len(values) == 1 and i < len(truth) and values[0] == truth[i]
        labels.append(ok)
    return labels
