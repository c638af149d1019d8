"""Difficulty without the answer key, from the solutions a problem has drawn so far.

The answers are grouped as the task's grader groups them (`selection.group_answers`); each
group weighs its number of solutions (`majority`) or the sum of their aggregated PRM scores
(`weighted`, `best`), rescaled to the number of solutions. From the two heaviest groups:

- `agreement`: the top group's share of all solutions (1 = unanimous);
- `flip`: the probability that the current decision is not the one infinitely many samples
  would give, i.e. P(p_second >= p_top) under a normal approximation to the multinomial
  posterior with a `prior` pseudo-count per group (more samples can only help where it is
  large: split problems);
- `difficulty`: 1 - agreement (0 easy .. 1 hard), the number calibrated against true
  difficulty in docs/allocation.md; `mean_score`: the mean aggregated PRM score, if scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from infscale.search.node import Node
from infscale.search.selection import aggregate, group_answers
from infscale.tasks.base import Task, equivalence_is_key


class AnswerGroups:
    """`selection.group_answers` kept up to date as solutions arrive: each new answer is
    compared only with the groups so far (same groups, same order as grouping all at once),
    and each group's count and summed score are carried along, so re-estimating a problem
    costs its new solutions, not all of them (sums taken in sample order: the same numbers)."""

    def __init__(self, task: Task):
        self.task, self.seen = task, 0
        self.by_key: dict[str, int] = {}
        self.first: list[str] = []  # each group's first answer
        self.counts: list[int] = []
        self.sums: list[float] = []  # per group, its members' scores summed in sample order
        self.score_total: float = 0
        self.unscored = 0  # samples without a score
        self.keyed = equivalence_is_key(task)  # then an unseen key is a new group, no scan

    def add(self, samples: Sequence[Node], aggregation: str) -> None:
        key_of, by_key, counts, sums = self.task.answer_key, self.by_key, self.counts, self.sums  # (hot loop)
        for sample in samples[self.seen :]:
            score = aggregate(sample.step_scores, aggregation)
            if score is None:
                self.unscored += 1
            else:
                self.score_total += score
            answer = sample.answer
            if answer is None:
                continue
            key = key_of(answer)
            group = by_key.get(key)
            if group is None:
                group = self._new_key(answer, key)
            counts[group] += 1
            sums[group] += score if score is not None else 0.0
        self.seen = len(samples)

    def _new_key(self, answer: str, key: str) -> int:
        """The group of an answer whose key is new: an equivalent earlier group's, or a new one."""
        fresh = len(self.first)
        group = (
            fresh
            if self.keyed
            else next((g for g, first in enumerate(self.first) if self.task.equivalent(first, answer)), fresh)
        )
        if group == fresh:
            self.first.append(answer)
            self.counts.append(0)
            self.sums.append(0)
        self.by_key[key] = group
        return group


def estimate(
    samples: Sequence[Node],
    selector: str,
    aggregation: str,
    task: Task,
    prior: float,
    groups: AnswerGroups | None = None,
) -> dict[str, Any]:
    """The estimate from `samples`; pass the problem's `AnswerGroups` (which has seen a prefix
    of `samples`, nothing else) to estimate incrementally."""
    n = len(samples)
    if n == 0:
        return {"samples": 0, "agreement": 0.0, "flip": 1.0, "difficulty": 1.0, "mean_score": None}
    if groups is None:
        scores = [aggregate(s.step_scores, aggregation) for s in samples]
        scored = selector != "majority" and all(v is not None for v in scores)
        answered = [i for i, s in enumerate(samples) if s.answer is not None]
        weights = []
        for group in group_answers([samples[i].answer for i in answered], task):
            members = [answered[k] for k in group]
            weights.append(sum(scores[i] for i in members) if scored else float(len(members)))
        score_total = sum(scores) if scored else 0.0
    else:
        groups.add(samples, aggregation)
        scored = selector != "majority" and groups.unscored == 0
        weights = groups.sums if scored else [float(c) for c in groups.counts]
        score_total = groups.score_total
    # the two heaviest groups (rescaling by n / total keeps the order, so it is done on these two only)
    top, second = (sorted(weights, reverse=True)[:2] + [0.0, 0.0])[:2]  # (faster than heapq for a few groups)
    if scored:
        total = score_total or 1.0
        top, second = top * n / total, second * n / total
    agreement = top / n
    return {
        "samples": n,
        "agreement": round(agreement, 6),
        "flip": round(flip_probability(top, second, n, prior), 6),
        "difficulty": round(1.0 - agreement, 6),
        "mean_score": round(score_total / n, 6) if scored else None,
    }


def flip_probability(top: float, second: float, n: int, prior: float) -> float:
    """P(p_second >= p_top) for group shares estimated from weights `top` >= `second` out of
    `n` (normal approximation to the Dirichlet posterior with `prior` per group)."""
    total = n + 2 * prior + 1
    p1, p2 = (top + prior) / total, (second + prior) / total
    variance = (p1 + p2 - (p1 - p2) ** 2) / (total + 1)
    if variance <= 0:
        return 0.0
    z = (p1 - p2) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))
