"""Math-Shepherd PRM (Wang et al. 2024; the PRM of Wu et al.): the question, a space, then
"Step k: <text> ки" lines; the score of a step is softmax over the `+`/`-` token logits at
its `ки` tag, P(+)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from infscale.rewards.prm_adapters.plus_minus import PlusMinusAdapter

STEP_TAG = "ки"
_NUMBERED = re.compile(r"^Step \d+:")


class MathShepherdAdapter(PlusMinusAdapter):
    name = "math_shepherd"
    add_special_tokens = True

    def clean(self, step: str) -> str:
        """A step that already carries the tag (a Math-Shepherd-style policy) loses it."""
        step = step.strip()
        tag = self.options.get("step_tag", STEP_TAG)
        return step[: -len(tag)].rstrip() if step.endswith(tag) else step

    def render(self, question: str, steps: Sequence[str]) -> tuple[str, list[int], int]:
        tag = self.options.get("step_tag", STEP_TAG)
        text, tags = f"{question} ", []
        for k, step in enumerate(steps, 1):
            line = step if _NUMBERED.match(step) else f"Step {k}: {step}".rstrip()
            text += line + " "
            tags.append(len(text))
            text += tag + ("\n" if k < len(steps) else "")
        return text, tags, self.token_id(tag)
