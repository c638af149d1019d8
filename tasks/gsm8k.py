"""GSM8K (openai/grade-school-math JSONL: `question`, `answer` ending in `#### <number>`).

Problem ids are the line index (`gsm8k-0000` ...), stable across runs; GSM8K has no
difficulty levels.
"""

from __future__ import annotations

from infscale.tasks.base import Problem
from infscale.tasks.data import load_hub, read_jsonl, resolve
from infscale.tasks.math_task import MathTask
from infscale.tasks.prompts import hashes_answer, strip_thousands


def reference_answer(worked: str) -> str:
    """The number after the last `####` of a GSM8K worked answer, commas removed."""
    found = hashes_answer(worked)
    if found is None:
        raise ValueError(f"GSM8K answer has no '####' line: {worked[-80:]!r}")
    return strip_thousands(found)


class GSM8KTask(MathTask):
    name = "gsm8k"
    default_file = "gsm8k/test.jsonl"

    def _load(self) -> list[Problem]:
        if self.dataset:
            rows = load_hub(self.dataset, self.split)
        else:
            rows = read_jsonl(resolve(self.path, self.default_file), ("question", "answer"))
        return [
            self.problem(f"gsm8k-{i:04d}", row["question"], reference_answer(row["answer"]), None)
            for i, row in enumerate(rows)
        ]

    def extract_answer(self, text: str) -> str | None:
        answer = super().extract_answer(text)
        return strip_thousands(answer) if answer is not None else None
