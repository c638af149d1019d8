"""Qwen2.5-Math-PRM: the chat template (system "Please reason step by step, and put your
final answer within \\boxed{}."), the assistant turn holding the steps joined by `<extra_0>`
with one more after the last, and P(positive) = softmax of the two-class head at each
`<extra_0>` (Zhang et al. 2025, the model card's `make_step_rewards`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from infscale.rewards.prm_adapters.base import PRMAdapter
from infscale.rewards.qwen2_prm import Qwen2ForProcessRewardModel, positive_probabilities
from infscale.tasks.prompts import QWEN_SYSTEM, qwen_chat

STEP_TAG = "<extra_0>"


class QwenAdapter(PRMAdapter):
    name = "qwen"
    model_class = Qwen2ForProcessRewardModel

    def head(self, model: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        return positive_probabilities(model.score(hidden))

    def render(self, question: str, steps: Sequence[str]) -> tuple[str, list[int], int]:
        tag = self.options.get("step_tag", STEP_TAG)
        content = tag.join(steps) + tag
        system = self.options.get("system", QWEN_SYSTEM)
        if getattr(self.tokenizer, "chat_template", None):
            messages = [
                {"role": "system", "content": system},
                {"role": "user", "content": question},
                {"role": "assistant", "content": content},
            ]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        else:
            text = qwen_chat(system, question) + content + "<|im_end|>\n"
        start = text.rindex(content)
        tags, cursor = [], start
        for step in steps:
            cursor += len(step)
            tags.append(cursor)
            cursor += len(tag)
        return text, tags, self.token_id(tag)
