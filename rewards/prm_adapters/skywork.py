"""Skywork-o1-Open-PRM (Qwen2.5 backbone with a scalar value head `v_head.summary`): the
BOS token, the question and a newline, then each step's own tokens followed by the "\n"
step token (steps tokenized one by one, as Skywork's `prepare_input` does); the score is
sigmoid of the value head at each step token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from transformers import Qwen2Config
from transformers.models.qwen2.modeling_qwen2 import Qwen2Model, Qwen2PreTrainedModel

from infscale.rewards.prm_adapters.base import PRMAdapter

STEP_TAG = "\n"


class ValueHead(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.summary = nn.Linear(hidden_size, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.summary(hidden.to(self.summary.weight.dtype)).squeeze(-1)


class Qwen2ForPrmModel(Qwen2PreTrainedModel):
    """Skywork's checkpoint layout: `model.*` (a Qwen2 backbone), `v_head.summary`; the
    checkpoint's `lm_head` is not needed for scoring and is not loaded."""

    config_class = Qwen2Config
    _keys_to_ignore_on_load_unexpected = [r"lm_head\."]

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__(config)
        self.model = Qwen2Model(config)
        self.v_head = ValueHead(config.hidden_size)
        self.post_init()

    def forward(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, **kwargs: Any
    ) -> torch.Tensor:
        hidden = self.model(
            input_ids=input_ids, attention_mask=attention_mask, use_cache=False, **kwargs
        ).last_hidden_state
        return self.v_head(hidden)


class SkyworkAdapter(PRMAdapter):
    name = "skywork"
    model_class = Qwen2ForPrmModel

    def head(self, model: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(model.v_head(hidden).float())

    def tokenize(self, question: str, steps: Sequence[str]) -> tuple[list[int], list[int]]:
        bos = self.tokenizer.bos_token or ""
        ids = list(self.tokenizer.encode(bos + question + "\n"))
        tag = self.token_id(self.options.get("step_tag", STEP_TAG))
        positions = []
        for step in steps:
            if step:
                ids.extend(self.tokenizer.encode(step))
            positions.append(len(ids))
            ids.append(tag)
        return ids, positions
