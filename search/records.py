"""One problem's outcome as the JSON line `results.jsonl` stores."""

from __future__ import annotations

from typing import Any

from infscale.budgets.ledger import prefill_flops, span_flops
from infscale.search.engine import Outcome
from infscale.search.selection import aggregate
from infscale.tasks.base import Task


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
                **_own_cost(node, ledger),
            }
            for node in decision.candidates
        ],
        "samples": ledger.samples,
        "tokens": ledger.tokens_record(),
        "flops": ledger.flops_record(),
        "wall_s": round(outcome.wall_s, 6),
    }


def _own_cost(node: Any, ledger: Any) -> dict[str, Any]:
    """What the candidate's own (last) node was charged (search/charges.py): its prompt
    context, its generated tokens, the reward tokens charged to score it, and the decode /
    reward FLOPs of exactly those. For best-of-N a candidate is one whole sample, so these
    sum to the run's charged totals less the shared prompt prefill (charged once), which is
    what subsampled curves (experiments/analysis/curves.py) need.
    """
    scored = node.step_scores is not None
    return {
        "context": node.context,
        "own_tokens": node.tokens,
        "reward_tokens": node.reward_tokens if scored else 0,
        "reward_cached": node.reward_cached if scored else 0,
        "flops": {
            "decode": span_flops(ledger.policy, node.context, node.tokens),
            "reward": prefill_flops(ledger.reward, node.reward_tokens, node.reward_cached) if scored else 0.0,
        },
    }
