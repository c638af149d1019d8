"""Choosing the final answer from finished candidates: aggregation and voting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, TypeVar

from infscale.tasks.base import Task, equivalence_is_key

AGGREGATIONS = ("min", "last", "prod", "mean")
SELECTORS = ("majority", "weighted", "best")
UNANSWERED = ("vote", "drop")


class Candidate(Protocol):
    """What selection reads of a finished candidate: a search `Node`, or any record with
    an extracted answer and per-step scores (the ladder's sampled solutions)."""

    @property
    def answer(self) -> str | None: ...

    @property
    def step_scores(self) -> list[float] | None: ...


C = TypeVar("C", bound=Candidate)


def aggregate(step_scores: Sequence[float] | None, how: str) -> float | None:
    """One number for a trajectory from its per-step scores."""
    if step_scores is None:
        return None
    if not step_scores:
        return 0.0
    if how == "min":
        return min(step_scores)
    if how == "last":
        return step_scores[-1]
    if how == "prod":
        return math.prod(step_scores)
    if how == "mean":
        return sum(step_scores) / len(step_scores)
    raise ValueError(f"unknown aggregation '{how}' (known: {', '.join(AGGREGATIONS)})")


def group_answers(answers: Sequence[str], task: Task) -> list[list[int]]:
    """Indices of equivalent answers, grouped; groups ordered by their first member.

    Answers are first bucketed by the task's cheap `answer_key`; buckets whose
    representatives the task's grader calls equivalent are then merged.
    """
    buckets: dict[str, list[int]] = {}
    key_of = task.answer_key
    for i, answer in enumerate(answers):
        buckets.setdefault(key_of(answer), []).append(i)
    if equivalence_is_key(task):
        return list(buckets.values())  # (dict order: by first member, members in order)
    groups: list[list[int]] = []
    for members in buckets.values():
        for group in groups:
            if task.equivalent(answers[group[0]], answers[members[0]]):
                group.extend(members)
                break
        else:
            groups.append(list(members))
    for group in groups:
        group.sort()
    groups.sort(key=lambda g: g[0])
    return groups


def select(candidates: Sequence[C], selector: str, aggregation: str, task: Task, unanswered: str = "vote") -> C | None:
    """The chosen candidate (its answer is the decision), or None if there is none.

    `majority` picks the largest group, `weighted` the group with the largest summed score,
    `best` the highest-scoring candidate; ties go to the group (or candidate) that came
    first (search-and-learn's `find_majority_answer` / `find_answer_with_largest_sum`).
    With `unanswered="vote"` (both reference codes) candidates without an answer form one
    group of their own ("no answer") that can win, and then the answer is None; with
    `"drop"` they do not vote.
    """
    if unanswered not in UNANSWERED:
        raise ValueError(f"unknown strategy.unanswered '{unanswered}' (known: {', '.join(UNANSWERED)})")
    voters = [c for c in candidates if c.answer is not None or unanswered == "vote"]
    if not voters:
        return None
    if selector == "best":
        return max(voters, key=lambda c: (_score(c, aggregation), -voters.index(c)))
    groups = answer_groups([c.answer for c in voters], task)
    if selector == "majority":
        weight = [float(len(g)) for g in groups]
    elif selector == "weighted":
        weight = [math.fsum(_score(voters[i], aggregation) for i in g) for g in groups]
    else:
        raise ValueError(f"unknown selector '{selector}' (known: {', '.join(SELECTORS)})")
    best = max(range(len(groups)), key=lambda k: (weight[k], -k))
    return voters[groups[best][0]]


def answer_groups(answers: Sequence[str | None], task: Task) -> list[list[int]]:
    """`group_answers`, with every missing answer (None) in one group of its own: the
    "no answer" vote of `unanswered="vote"`."""
    given = [i for i, a in enumerate(answers) if a is not None]
    groups = [[given[k] for k in g] for g in group_answers([answers[i] for i in given], task)]
    missing = [i for i, a in enumerate(answers) if a is None]
    return sorted(groups + ([missing] if missing else []), key=lambda g: g[0])


def _score(node: Candidate, aggregation: str) -> float:
    value = aggregate(node.step_scores, aggregation)
    if value is None:
        raise ValueError("a score-based selector needs scored candidates: the strategy did not score them")
    return value
