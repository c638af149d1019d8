"""PRMs that are causal language models scored by the next-token probability of a "good"
against a "bad" token (Math-Shepherd, RLHFlow): softmax over the two logits, P(good)."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from infscale.rewards.prm_adapters.base import PRMAdapter, two_class_probability


class PlusMinusAdapter(PRMAdapter):
    good_token = "+"
    bad_token = "-"
    model_class = AutoModelForCausalLM

    def candidates(self) -> list[int]:
        return [
            int(self.options.get("good_token_id") or self.token_id(self.options.get("good_token", self.good_token))),
            int(self.options.get("bad_token_id") or self.token_id(self.options.get("bad_token", self.bad_token))),
        ]

    def head(self, model: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        weight = model.get_output_embeddings().weight[self.candidates()]
        return two_class_probability(hidden.to(weight.dtype) @ weight.T)
