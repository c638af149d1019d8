"""What the engine makes of a reward model's scores.

Before a call: the steps of a path that an incremental PRM need not read again, because its
nearest scored ancestor's steps begin the path and their scores stand. After a call: what the
backend says the call computed, and the scores checked (one per new step, or one for an
outcome model; each a finite number in [0, 1]), with a one-line error naming the reward model
and the node otherwise.
"""

from __future__ import annotations

import math

from infscale.search.backends import RewardModel, ScoreResult
from infscale.search.jobs import Job
from infscale.search.node import Node
from infscale.tasks.base import Task


def known_scores(reward: RewardModel, task: Task, node: Node, steps: tuple[str, ...]) -> tuple[int, list[float]]:
    """(k, scores of the first k steps) from the nearest scored ancestor whose steps begin this
    path, when the reward model scores incrementally; else (0, [])."""
    if not reward.incremental or reward.outcome:
        return 0, []
    ancestor = node.parent
    while ancestor is not None and ancestor.step_scores is None:
        ancestor = ancestor.parent
    if ancestor is None or not ancestor.step_scores:
        return 0, []
    known = len(ancestor.step_scores)
    if known > len(steps) or tuple(task.split_steps(ancestor.solution)) != steps[:known]:
        return 0, []
    return known, list(ancestor.step_scores)


def reported_cost(reward: RewardModel, job: Job, values: list[float]) -> tuple[int | None, int | None]:
    """(computed, cached) reward tokens of one request, as the backend reports them."""
    if isinstance(values, ScoreResult):
        return values.computed, values.cached
    if job.request.known:
        raise ValueError(
            f"reward '{reward.name}' scores incrementally but did not report its computed tokens (return a ScoreResult)"
        )
    return job.context, 0 if job.context is not None else None


def checked_scores(reward: RewardModel, values: list[float], job: Job) -> list[float]:
    """`values` as floats, once their count and range are what `job`'s request asked for."""
    request = job.request
    expected = 1 if reward.outcome else len(request.steps) - request.known
    where = f"problem {job.run.tree.problem.id}, node {job.node.id}"
    if len(values) != expected:
        raise ValueError(
            f"reward '{reward.name}' returned {len(values)} scores for a trajectory of "
            f"{len(request.steps)} steps, {request.known} of them scored before ({where})"
        )
    values = [float(v) for v in values]
    if any(not math.isfinite(v) or not 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"reward '{reward.name}' returned a score outside [0, 1] or NaN: {values} ({where})")
    return values
