"""MATH500 (prm800k `math_splits/test.jsonl` = HuggingFaceH4/MATH-500: `problem`,
`solution`, `answer`, `subject`, `level`, `unique_id`).

Problem ids are the dataset's `unique_id` (e.g. `test/precalculus/807.json`); `level`
(1-5) and `subject` are kept for difficulty-binned analysis.
"""

from __future__ import annotations

from infscale.tasks.base import Problem
from infscale.tasks.data import load_hub, read_jsonl, resolve
from infscale.tasks.math_task import MathTask, parse_level


class Math500Task(MathTask):
    name = "math500"
    default_file = "math500/test.jsonl"

    def _load(self) -> list[Problem]:
        fields = ("problem", "answer", "unique_id")
        if self.dataset:
            rows = load_hub(self.dataset, self.split)
        else:
            rows = read_jsonl(resolve(self.path, self.default_file), fields)
        return [
            self.problem(
                row["unique_id"],
                row["problem"],
                row["answer"],
                parse_level(row.get("level")),
                subject=row.get("subject"),
                solution=row.get("solution"),
            )
            for row in rows
        ]
