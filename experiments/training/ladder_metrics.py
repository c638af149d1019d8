"""The ladder's sampling metrics (`ladder.py`, `ladder_prm.py`, `studies/ladder_recheck.py`):
majority, PRM-weighted and PRM best-of-N accuracy curves over a problem's samples, chosen
by the engine's own selection (`search/selection.select`).

The ladder's model cards were computed with solutions without an answer left out of the
votes (`unanswered: drop` for majority and weighted) and taking part in best-of-N (`vote`:
a best-scored solution without an answer is a miss); a solution is worth its lowest step
score (`aggregation: min`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from infscale.experiments.training.ladder_ops import TASK
from infscale.search.selection import select

UNANSWERED = {"majority": "drop", "weighted": "drop", "best": "vote"}


@dataclass(frozen=True)
class Solution:
    """A sampled solution as selection reads it."""

    answer: str | None
    step_scores: list[float] | None = None


def choose(
    answers: Sequence[str | None], selector: str = "majority", scores: Sequence[Sequence[float]] | None = None
) -> str | None:
    """The answer `selector` picks among the solutions (`scores`: their per-step PRM scores)."""
    solutions = [Solution(a, None if scores is None else list(scores[k])) for k, a in enumerate(answers)]
    chosen = select(solutions, selector, "min", TASK, UNANSWERED[selector])
    return None if chosen is None else chosen.answer


def selection_curves(
    records: Sequence[Sequence[dict[str, Any]]], refs: Sequence[str], ns: Sequence[int], scores: Any = None
) -> dict[str, dict[int, float]]:
    """Accuracy of majority (and, given per-record step `scores`, PRM-weighted voting and PRM
    best-of-N) on the first n samples of each problem, averaged over the disjoint groups of
    n samples the problem has."""
    selectors = ("majority",) if scores is None else ("majority", "weighted", "best")
    curves: dict[str, dict[int, float]] = {s: {} for s in selectors}
    for n in ns:
        hits: dict[str, list[float]] = {s: [] for s in selectors}
        for p, (rows, ref) in enumerate(zip(records, refs)):
            groups = range(0, len(rows) - n + 1, n)
            for selector in selectors:
                right = 0
                for g in groups:
                    answers = [r["answer"] for r in rows[g : g + n]]
                    pick = choose(answers, selector, None if scores is None else scores[p][g : g + n])
                    right += TASK.is_correct(pick, ref)
                hits[selector].append(right / len(groups))
        for selector, values in hits.items():
            if values:
                curves[selector][n] = float(np.mean(values))
    return {k: v for k, v in curves.items() if v}


def policy_summary(
    greedy: Sequence[dict[str, Any]], records: Sequence[Sequence[dict[str, Any]]], refs: Sequence[str]
) -> dict[str, float | None]:
    """Greedy, one-sample (mean over all samples) and majority@16 accuracy."""
    one = float(np.mean([np.mean([r["correct"] for r in rows]) for rows in records]))
    majority = selection_curves(records, refs, [16])["majority"][16] if len(records[0]) >= 16 else None
    return {"greedy": float(np.mean([g["correct"] for g in greedy])), "one_sample": one, "majority@16": majority}


def answer_entropy(records: Sequence[Sequence[dict[str, Any]]]) -> float:
    """Mean number of distinct answers among a problem's samples (how much errors scatter)."""
    return float(np.mean([len(Counter(r["answer"] for r in rows)) for rows in records]))
