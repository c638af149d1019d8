"""One problem's outcome as the JSON line `results.jsonl` stores."""
from __future__ import annotations

from typing import Any

from search.engine import Outcome
from search.selection import aggregate
from tasks.base import Task


def outcome_record(outcome: Outcome, task: Task, run_info: dict[str, Any], aggregation: str) -> dict[str, Any]:
    problem, decision, ledger = outcome.problem, outcome.decision, outcome.ledger
    return {
        "problem_id": problem.id,
        **run_info,
        "level": problem.level,
        "answer": decision.answer,
        "reference": problem.reference,
        "correct": task.is_correct(decision.answer, problem.reference),
        "n_finished": len(decision.candidates),
        "candidates": [
            {
                "answer": node.answer,
                "score": aggregate(node.step_scores, aggregation),
                "step_scores": node.step_scores,
                "tokens": node.generated,
            }
            for node in decision.candidates
        ],
        "samples": ledger.samples,
        "tokens": ledger.tokens_record(),
        "flops": ledger.flops_record(),
        "wall_s": round(outcome.wall_s, 6),
    }
