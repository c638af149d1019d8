"""What GSM8K, MATH500 and the recorded MATH samples share: prompts by model family,
answer extraction, math-verify grading and difficulty filtering."""

from __future__ import annotations

from typing import Any

from infscale.tasks.base import Problem, TextTask
from infscale.tasks.grading import answer_key, grader
from infscale.tasks.prompts import extract_answer, family


class MathTask(TextTask):
    """A benchmark of worded math problems graded by math-verify.

    Subclasses turn their records into `Problem`s with `_load()`; the prompt is the
    question rendered by the prompt family, and `meta["question"]` keeps the bare question
    (PRM adapters build their own input from it, see `question_for`).
    """

    name = "math"
    default_prompt = "qwen25_math"

    def __init__(
        self,
        path: str | None,
        *,
        dataset: str | None,
        split: str,
        prompt: str | None,
        step_delimiter: str | None,
        level: int | str | None,
        grading_timeout_s: float,
    ) -> None:
        self.path, self.dataset, self.split = path, dataset, split
        self.family = family(prompt or self.default_prompt)
        self.step_delimiter = step_delimiter or self.family.step_delimiter
        self.level = _level(level)
        self.grader = grader(float(grading_timeout_s))
        self._problems: list[Problem] | None = None
        self._questions: dict[str, str] = {}

    def _load(self) -> list[Problem]:
        raise NotImplementedError

    def problem(self, id: str, question: str, reference: str, level: int | None, **meta: Any) -> Problem:
        prompt = self.family.render(question)
        self._questions[prompt] = question
        return Problem(id=id, prompt=prompt, reference=reference, level=level, meta={"question": question, **meta})

    def problems(self) -> list[Problem]:
        if self._problems is None:
            loaded = self._load()
            ids = [p.id for p in loaded]
            if len(set(ids)) != len(ids):
                raise ValueError(f"task {self.name}: problem ids are not unique")
            self._problems = [p for p in loaded if self.level is None or p.level == self.level]
            if not self._problems:
                raise ValueError(f"task {self.name}: no problems at level {self.level}")
        return self._problems

    def question_for(self, prompt: str) -> str:
        """The bare question behind one of this task's prompts (the prompt itself otherwise)."""
        if not self._questions:
            self.problems()
        return self._questions.get(prompt, prompt)

    def extract_answer(self, text: str) -> str | None:
        return extract_answer(text)

    def answer_key(self, answer: str) -> str:
        return answer_key(answer)

    def equivalent(self, a: str, b: str) -> bool:
        return self.grader.equivalent(a, b)

    def is_correct(self, answer: str | None, reference: str) -> bool:
        return answer is not None and self.grader.equivalent(reference, answer)


def _level(level: int | str | None) -> int | None:
    """`task.level`: null or "mixed" for all, else a difficulty number such as 3 or "Level 3"."""
    if level is None or level == "mixed":
        return None
    parsed = parse_level(level)
    if parsed is None:
        raise ValueError(f"task.level must be a number, 'Level k' or 'mixed', got {level!r}")
    return parsed


def parse_level(value: Any) -> int | None:
    """MATH levels as numbers: 3, "3" and "Level 3" -> 3; "Level ?" and null -> None."""
    if value is None:
        return None
    text = str(value).removeprefix("Level").strip()
    return int(text) if text.isdigit() else None
