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
from infscale.tasks.base import Task


class AnswerGroups:
    """`selection.group_answers` kept up to date as solutions arrive: each new answer is
    compared only with the groups so far (same groups, same order as grouping all at once)."""

    def __init__(self, task: Task):
        self.task, self.seen = task, 0
        self.by_key: dict[str, int] = {}
        self.members: list[list[int]] = []  # indices into the answered solutions
        self.answers: list[str] = []

    def update(self, answers: Sequence[str]) -> list[list[int]]:
        for answer in answers[self.seen :]:
            index, key = len(self.answers), self.task.answer_key(answer)
            self.answers.append(answer)
            group = self.by_key.get(key)
            if group is None:
                group = next(
                    (g for g, m in enumerate(self.members) if self.task.equivalent(self.answers[m[0]], answer)),
                    len(self.members),
                )
                if group == len(self.members):
                    self.members.append([])
                self.by_key[key] = group
            self.members[group].append(index)
        self.seen = len(answers)
        return self.members


def estimate(
    samples: Sequence[Node],
    selector: str,
    aggregation: str,
    task: Task,
    prior: float,
    groups: AnswerGroups | None = None,
) -> dict[str, Any]:
    """The estimate from `samples`; pass the problem's `AnswerGroups` to group incrementally."""
    n = len(samples)
    if n == 0:
        return {"samples": 0, "agreement": 0.0, "flip": 1.0, "difficulty": 1.0, "mean_score": None}
    scores = [aggregate(s.step_scores, aggregation) for s in samples]
    scored = selector != "majority" and all(v is not None for v in scores)
    answered = [i for i, s in enumerate(samples) if s.answer is not None]
    weights = []
    answers = [samples[i].answer for i in answered]
    for group in groups.update(answers) if groups is not None else group_answers(answers, task):
        members = [answered[k] for k in group]
        weights.append(sum(scores[i] for i in members) if scored else float(len(members)))
    if scored:
        total = sum(scores) or 1.0
        weights = [w * n / total for w in weights]
    weights.sort(reverse=True)
    top = weights[0] if weights else 0.0
    second = weights[1] if len(weights) > 1 else 0.0
    agreement = top / n
    return {
        "samples": n,
        "agreement": round(agreement, 6),
        "flip": round(flip_probability(top, second, n, prior), 6),
        "difficulty": round(1.0 - agreement, 6),
        "mean_score": round(sum(scores) / n, 6) if scored else None,
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
