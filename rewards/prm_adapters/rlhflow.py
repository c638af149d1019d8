"""RLHFlow PRMs (Llama3.1-8B-PRM-Mistral/Deepseek-Data): a chat where each step is a user
turn (the first prefixed by the question and a space) answered by an assistant turn "+";
the step's score is P(+) of softmax over the `+`/`-` logits at the token before that "+",
which one causal pass computes for every step at once."""

from __future__ import annotations

from collections.abc import Sequence

from infscale.rewards.prm_adapters.plus_minus import PlusMinusAdapter


class RLHFlowAdapter(PlusMinusAdapter):
    name = "rlhflow"
    # A chat template may render a turn differently once another follows (end-of-turn and
    # generation markers), so earlier positions are not guaranteed to stand.
    prefix_stable = False

    def render(self, question: str, steps: Sequence[str]) -> tuple[str, list[int], int]:
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError("PRM adapter 'rlhflow' needs a tokenizer with a chat template")
        good = self.options.get("good_token", self.good_token)
        messages = []
        for k, step in enumerate(steps):
            messages.append({"role": "user", "content": f"{question} {step}" if k == 0 else step})
            messages.append({"role": "assistant", "content": good})
        text = self._chat(messages)
        tags = []
        for k in range(len(steps)):
            prefix = self._chat(messages[: 2 * k + 2])
            if not text.startswith(prefix):
                raise ValueError("PRM adapter 'rlhflow': the chat template does not render turns as prefixes")
            tags.append(prefix.rindex(good))
        return text, tags, self.token_id(good)

    def read_offset(self) -> int:
        return -1

    def _chat(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
