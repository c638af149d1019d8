"""Best-of-N evaluation of a PRM on a task: N solutions per problem from a policy, scored
once, then the answer chosen with each aggregation (min, last, prod) side by side.

One engine run serves every aggregation and selector, because they only differ in how the
same step scores are turned into a choice. Where the task can check steps, the responses
also feed the outcome-bias diagnostics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infscale.experiments.app.build import load
from infscale.experiments.stats import bootstrap_ci
from infscale.rewards.eval import diagnostics, truth
from infscale.search.engine import Engine, Outcome
from infscale.search.selection import select
from infscale.tasks.base import Problem, Task

AGGREGATIONS = ("min", "last", "prod")
SELECTORS = ("best", "weighted")


@dataclass(frozen=True)
class Response:
    """One finished solution: its steps, step scores, answer and (if checkable) labels."""

    problem: Problem
    steps: tuple[str, ...]
    scores: tuple[float, ...]
    answer: str | None
    correct: bool
    label: int | None


def sample_and_score(engine: Engine, problems: Sequence[Problem], n: int) -> list[Outcome]:
    if engine.reward is None:
        raise ValueError("Best-of-N evaluation needs a reward model (reward=none given)")
    strategy = load("strategy", "best_of_n", task=engine.task, n=n, selector="best", aggregation="min")
    return list(engine.run(problems, strategy))


def evaluate_bon(outcomes: Sequence[Outcome], task: Task, tau: float) -> dict[str, Any]:
    """Accuracy for every (selector, aggregation), majority voting, pass@N, diagnostics."""
    if not outcomes:
        raise ValueError("Best-of-N evaluation got no problems (bon.n_problems is 0 or the task is empty)")
    accuracy: dict[str, dict[str, Any]] = {}
    for selector in SELECTORS:
        for how in AGGREGATIONS:
            accuracy[f"{selector}_{how}"] = _accuracy(outcomes, task, selector, how)
    accuracy["majority"] = _accuracy(outcomes, task, "majority", "last")
    hits = [float(any(task.is_correct(c.answer, o.problem.reference) for c in o.decision.candidates)) for o in outcomes]
    responses = collect_responses(outcomes, task)
    report: dict[str, Any] = {
        "n_problems": len(outcomes),
        "n": max(len(o.decision.candidates) for o in outcomes),
        "accuracy": accuracy,
        "pass_at_n": sum(hits) / len(hits),
        "min_on_last": diagnostics.min_on_last_share([r.scores for r in responses]),
        "wrong_process": None,
    }
    if truth.can_label(task):
        labelled = [r for r in responses if r.label is not None]
        report["wrong_process"] = diagnostics.wrong_process(
            [r.label for r in labelled], [r.correct for r in labelled], [r.scores for r in labelled], tau
        )
    return report


def collect_responses(outcomes: Sequence[Outcome], task: Task) -> list[Response]:
    responses = []
    for outcome in outcomes:
        problem = outcome.problem
        for node in outcome.decision.candidates:
            if node.step_scores is None:
                continue
            steps = tuple(task.split_steps(node.solution))
            labels = truth.process_labels(task, problem, steps)
            responses.append(
                Response(
                    problem,
                    steps,
                    tuple(node.step_scores),
                    node.answer,
                    task.is_correct(node.answer, problem.reference),
                    None if labels is None else truth.first_error(labels),
                )
            )
    return responses


def _accuracy(outcomes: Sequence[Outcome], task: Task, selector: str, how: str) -> dict[str, float]:
    correct = []
    for outcome in outcomes:
        chosen = select(outcome.decision.candidates, selector, how, task)
        correct.append(float(chosen is not None and task.is_correct(chosen.answer, outcome.problem.reference)))
    low, high = bootstrap_ci(correct)
    return {"accuracy": sum(correct) / len(correct), "lo": low, "hi": high}
