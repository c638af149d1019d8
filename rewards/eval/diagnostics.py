"""Signs that a PRM judges outcomes rather than process (Qwen PRM lessons, section 3).

- `min_on_last_share`: among responses of at least two steps, the share whose final step
  holds the strict minimum of the step scores. A process-judging PRM puts the minimum at the
  first error, which is rarely the last step; an outcome-judging one piles it on the answer.
- `wrong_process`: among responses whose final answer is right, the share with a wrong step
  ("right answer, wrong process"), and how often the PRM catches them: flags some step
  (a score below tau) or flags exactly the first wrong step.
"""

from __future__ import annotations

from collections.abc import Sequence

from infscale.rewards.eval.processbench import predict_first_error


def min_on_last(scores: Sequence[float]) -> bool | None:
    """Whether the last step holds the strict minimum (None for fewer than two steps)."""
    if len(scores) < 2:
        return None
    return scores[-1] < min(scores[:-1])


def min_on_last_share(score_lists: Sequence[Sequence[float]]) -> dict[str, float | int | None]:
    flags = [f for f in (min_on_last(s) for s in score_lists) if f is not None]
    return {"share": sum(flags) / len(flags) if flags else None, "n": len(flags)}


def wrong_process(
    labels: Sequence[int], answer_correct: Sequence[bool | None], score_lists: Sequence[Sequence[float]], tau: float
) -> dict[str, float | int | None]:
    """`labels` are first-error indices (-1: no wrong step), one per response."""
    if not len(labels) == len(answer_correct) == len(score_lists):
        raise ValueError(
            f"wrong_process: {len(labels)} labels, {len(answer_correct)} answers, {len(score_lists)} score lists"
        )
    right = [i for i, ok in enumerate(answer_correct) if ok]
    flawed = [i for i in right if labels[i] >= 0]
    predicted = [predict_first_error(score_lists[i], tau) for i in flawed]
    return {
        "n_right_answer": len(right),
        "n_wrong_process": len(flawed),
        "share": len(flawed) / len(right) if right else None,
        "caught": sum(p >= 0 for p in predicted) / len(flawed) if flawed else None,
        "caught_at_first_error": sum(p == labels[i] for p, i in zip(predicted, flawed)) / len(flawed)
        if flawed
        else None,
    }
