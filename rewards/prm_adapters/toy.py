"""The toy PRM (`experiments/training/train_toy.py`): Qwen2.5-Math-PRM's network on the toy task's
text, no chat template. The input is the problem's prompt followed by the steps, each
ending with the newline that is also the step tag (one is added to a step without it, such
as the final `answer: N`); the score is P(positive) at that newline."""

from __future__ import annotations

from collections.abc import Sequence

from infscale.rewards.prm_adapters.qwen import QwenAdapter

STEP_TAG = "\n"


class ToyAdapter(QwenAdapter):
    name = "toy"
    add_special_tokens = False

    def clean(self, step: str) -> str:
        return step.rstrip("\n")

    def render(self, question: str, steps: Sequence[str]) -> tuple[str, list[int], int]:
        text, tags = question, []
        for step in steps:
            text += step
            tags.append(len(text))
            text += STEP_TAG
        return text, tags, self.token_id(STEP_TAG)
