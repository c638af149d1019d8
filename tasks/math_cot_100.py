"""100 MATH problems with 8 recorded Qwen2.5-Math chain-of-thought responses each
(QwenLM/Qwen2.5-Math `evaluation/data/eval_rm_maj_example/math_cot_100.jsonl`).

Fields: `idx`, `question`, `gt` (the reference), `level` ("Level 3"), `response` (8 texts),
`pred` (the recorder's extracted answers), `score` (their correctness), `pred_score` (an
outcome reward model's raw logit per response, as one-element lists). Problem ids are `idx`.
The responses are played back with `policy=replay`, the scores with `reward=replay`.
"""

from __future__ import annotations

from infscale.tasks.base import Problem
from infscale.tasks.data import read_jsonl, resolve
from infscale.tasks.math_task import MathTask, parse_level
from infscale.tasks.recordings import Recording

_FIELDS = ("idx", "question", "gt", "response", "pred_score")


class MathCot100Task(MathTask):
    name = "math_cot_100"
    default_file = "math_cot_100/math_cot_100.jsonl"

    def _load(self) -> list[Problem]:
        path = resolve(self.path, self.default_file)
        self._recordings: dict[str, list[Recording]] = {}
        problems = []
        for row in read_jsonl(path, _FIELDS):
            responses, scores = row["response"], row["pred_score"]
            preds, labels = row.get("pred") or [None] * len(responses), row.get("score") or [None] * len(responses)
            if not (len(responses) == len(scores) == len(preds) == len(labels)):
                raise ValueError(f"{path}: idx {row['idx']}: response/pred/score/pred_score lengths differ")
            problem = self.problem(str(row["idx"]), row["question"], str(row["gt"]), parse_level(row.get("level")))
            self._recordings[problem.prompt] = [
                Recording(text, pred, _scores(path, row["idx"], score), outcome=True, label=label)
                for text, pred, score, label in zip(responses, preds, scores, labels)
            ]
            problems.append(problem)
        return problems

    def recordings(self, prompt: str) -> list[Recording]:
        self.problems()
        return self._recordings.get(prompt, [])


def _scores(path: object, idx: object, scores: object) -> tuple[float, ...]:
    """A recorded `pred_score` entry as numbers, or a line naming the file and record."""
    if not isinstance(scores, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in scores):
        raise ValueError(f"{path}: idx {idx}: pred_score holds {scores!r}, not a list of numbers")
    return tuple(float(x) for x in scores)
