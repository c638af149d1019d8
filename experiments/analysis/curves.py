"""Cheap curves: one best-of-N run at N_max gives the accuracy-vs-compute curve of every n < N_max.

Sample j of a best-of-N run is drawn with seed `seed + j`, independent of the others, so a
run at width n is a subset of n of the N_max samples. For each problem we draw `draws`
random n-subsets (without replacement, kept in sample order so ties break as in a real
run), vote within each subset with the run's grader and selector, and average: the
problem's expected correctness at n. `subsets="prefix"` takes the first n samples instead,
which is exactly what a real run at n with the same seed would have drawn.

The cost of a subset is what a real run at n is charged (the engine's ledger):
  prefill  the shared prompt: `policy_prefill`, charged once per expansion whatever the width
           (a run with `compute.reuse`, search/charges.py; `max_batch=None`), or, for a run
           charged before that rule, once per policy call: `policy_prefill * calls(n) /
           calls(N_max)` with `calls(k) = ceil(k / engine.max_batch)`;
  decode   the sum of the chosen samples' own decode FLOPs;
  reward   the sum of their reward FLOPs, for score-based selectors only (a majority run
           never calls the reward model);
  paper    2 * N_nonembed * (tokens of the chosen samples).
Wall time cannot be known for a run that did not happen, so it is null.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from infscale.experiments.stats import bootstrap_ci
from infscale.search.selection import group_answers
from infscale.tasks.base import Task, derive_seed

SCORED_SELECTORS = ("weighted", "best")
COVERAGE = "pass@n"  # the selector name of coverage rows: any of the n samples correct


@dataclass
class ProblemSamples:
    """One problem's N samples, reduced to what voting and accounting need."""

    problem_id: str
    level: Any
    group: np.ndarray  # answer group of each sample, -1 for no answer
    group_correct: np.ndarray  # per group
    score: np.ndarray | None  # aggregated reward of each sample (None: unscored run)
    tokens: np.ndarray
    decode: np.ndarray
    reward: np.ndarray
    prefill: float
    paper_per_token: float

    @property
    def size(self) -> int:
        return len(self.group)

    def single_sample_accuracy(self) -> float:
        """The fraction of samples that are right: the policy's pass@1 on this problem."""
        hits = [bool(self.group_correct[g]) if g >= 0 else False for g in self.group]
        return float(np.mean(hits)) if hits else 0.0


@dataclass
class CurvePoint:
    """One (selector, n) point: means over problems, and each problem's own numbers."""

    selector: str
    n: int
    correct: list[float]  # per problem: expected correctness over the draws
    flops_total: list[float]
    flops_paper: list[float]
    tokens_generated: list[float]

    def summary(self) -> dict[str, Any]:
        low, high = bootstrap_ci(self.correct)
        return {
            "accuracy": float(np.mean(self.correct)),
            "accuracy_lo": low,
            "accuracy_hi": high,
            "flops_total": float(np.mean(self.flops_total)),
            "flops_paper": float(np.mean(self.flops_paper)),
            "tokens_generated": float(np.mean(self.tokens_generated)),
            "wall_s": None,
            "n_problems": len(self.correct),
        }


def eligible(records: Sequence[dict[str, Any]], budget: dict[str, Any] | None) -> str | None:
    """Why these best-of-N records cannot be subsampled, or None when they can."""
    if not records:
        return "no problems"
    if budget and any(v is not None for k, v in budget.items() if k not in ("name", "_target_")):
        return f"a budget cut its samples ({budget}); only uncapped runs subsample exactly"
    for record in records:
        candidates = record["candidates"]
        if len(candidates) != record["samples"] or len(candidates) != record["n"]:
            return f"problem {record['problem_id']} kept {len(candidates)} of {record['samples']} samples (n={record['n']})"
        if any("flops" not in c for c in candidates):
            return "its results.jsonl predates per-candidate costs; rerun it"
        if record["flops"]["total"] is None or any(c["flops"]["decode"] is None for c in candidates):
            return "its backend reports no FLOPs"
    return None


def prepare(records: Sequence[dict[str, Any]], task: Task) -> list[ProblemSamples]:
    """Group each problem's answers once with the task's grader (as voting does)."""
    prepared = []
    for record in records:
        candidates = record["candidates"]
        voters = [i for i, c in enumerate(candidates) if c["answer"] is not None]
        group = np.full(len(candidates), -1, dtype=int)
        groups = group_answers([candidates[i]["answer"] for i in voters], task)
        for g, members in enumerate(groups):
            group[[voters[m] for m in members]] = g
        correct = np.array(
            [task.is_correct(candidates[voters[m[0]]]["answer"], record["reference"]) for m in groups], dtype=bool
        )
        scored = all(c["score"] is not None for c in candidates)
        generated = record["tokens"]["generated"]
        paper = record["flops"]["paper"]
        prepared.append(
            ProblemSamples(
                problem_id=record["problem_id"],
                level=record.get("level"),
                group=group,
                group_correct=correct,
                score=np.array([c["score"] for c in candidates], dtype=float) if scored else None,
                tokens=np.array([c["tokens"] for c in candidates], dtype=float),
                decode=np.array([c["flops"]["decode"] for c in candidates], dtype=float),
                reward=np.array([c["flops"]["reward"] or 0.0 for c in candidates], dtype=float),
                prefill=float(record["flops"]["policy_prefill"]),
                paper_per_token=paper / generated if paper is not None and generated else 0.0,
            )
        )
    return prepared


def votes(problem: ProblemSamples, masks: np.ndarray, selector: str) -> np.ndarray:
    """For each row of `masks` (which samples a subset holds), whether `selector` picks a
    right answer from that subset. Mirrors `search.selection.select`: samples without an
    answer do not vote, no vote is wrong, ties go to the group (or sample) that came first.
    """
    groups = len(problem.group_correct)
    if groups == 0:
        return np.zeros(len(masks), dtype=bool)
    onehot = problem.group[:, None] == np.arange(groups)[None, :]
    voted = masks & (problem.group >= 0)[None, :]
    sample_correct = np.where(problem.group >= 0, problem.group_correct[np.maximum(problem.group, 0)], False)
    if selector == COVERAGE:
        return (voted & sample_correct[None, :]).any(axis=1)
    if selector == "best":
        scores = np.where(voted, problem.score[None, :], -np.inf)
        return voted.any(axis=1) & sample_correct[np.argmax(scores, axis=1)]
    if selector == "majority":
        weight = voted.astype(float) @ onehot.astype(float)
    elif selector == "weighted":
        weight = voted.astype(float) @ (onehot * problem.score[:, None])
    else:
        raise ValueError(f"unknown selector '{selector}' for subsampling (known: majority, weighted, best, {COVERAGE})")
    order = np.arange(problem.size, dtype=float)
    member = voted[:, :, None] & onehot[None, :, :]
    first = np.where(member, order[None, :, None], np.inf).min(axis=1)
    weight = np.where(np.isfinite(first), weight, -np.inf)
    tied = weight == weight.max(axis=1, keepdims=True)
    winner = np.argmin(np.where(tied, first, np.inf), axis=1)
    return voted.any(axis=1) & problem.group_correct[winner]


def subsample(
    problems: Sequence[ProblemSamples],
    ns: Iterable[int],
    selectors: Iterable[str],
    max_batch: int | None,
    draws: int = 64,
    subsets: str = "bootstrap",
    seed: int = 0,
) -> list[CurvePoint]:
    """Curve points for every (selector, n), each charged as a real run at n would be
    (`max_batch`: None for one prompt prefill per expansion, else calls of that many)."""
    if subsets not in ("bootstrap", "prefix"):
        raise ValueError(f"subsets must be 'bootstrap' or 'prefix', got {subsets!r}")
    if max_batch is not None and max_batch < 1:
        raise ValueError(f"engine.max_batch must be >= 1, got {max_batch}")
    selectors, points = list(selectors), []
    if any(s in SCORED_SELECTORS for s in selectors) and any(p.score is None for p in problems):
        raise ValueError(f"selectors {SCORED_SELECTORS} need scored samples; this run used majority voting")
    for n in ns:
        per = {s: ([], [], [], []) for s in selectors}
        for index, problem in enumerate(problems):
            size = problem.size
            if not 1 <= n <= size:
                raise ValueError(f"cannot subsample n={n} from {size} samples of problem {problem.problem_id}")
            masks = _subsets(size, n, draws, subsets, derive_seed(seed, index, n))
            prefill = problem.prefill
            if max_batch is not None:
                prefill *= math.ceil(n / max_batch) / math.ceil(size / max_batch)
            decode, reward, tokens = masks @ problem.decode, masks @ problem.reward, masks @ problem.tokens
            for selector in selectors:
                correct, total, paper, generated = per[selector]
                correct.append(float(np.mean(votes(problem, masks, selector))))
                scored = selector in SCORED_SELECTORS
                total.append(float(np.mean(prefill + decode + (reward if scored else 0.0))))
                paper.append(float(np.mean(tokens)) * problem.paper_per_token)
                generated.append(float(np.mean(tokens)))
        points += [CurvePoint(s, n, *per[s]) for s in selectors]
    return points


def _subsets(size: int, n: int, draws: int, subsets: str, seed: int) -> np.ndarray:
    """Boolean masks, one row per subset; a subset keeps its samples in sample order."""
    if subsets == "prefix" or n == size:
        masks = np.zeros((1, size), dtype=bool)
        masks[0, :n] = True
        return masks
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((draws, size)), axis=1)[:, :n]
    masks = np.zeros((draws, size), dtype=bool)
    np.put_along_axis(masks, order, True, axis=1)
    return masks


def powers_of_two(limit: int) -> list[int]:
    """1, 2, 4, ... up to and including `limit` (and `limit` itself if not a power of two)."""
    ns = [1 << k for k in range(limit.bit_length()) if 1 << k <= limit]
    return ns + ([limit] if ns[-1] != limit else [])
