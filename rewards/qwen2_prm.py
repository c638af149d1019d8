"""Qwen2.5-Math-PRM's network: a Qwen2 backbone and a two-class head on every token.

The weight names are exactly those of the published checkpoints (`model.*` for the
backbone, `score.0` Linear(h, h), ReLU, `score.2` Linear(h, 2)), and `save_pretrained`
writes `config.json` with `architectures: ["Qwen2ForProcessRewardModel"]`, so the same
safetensors files load here, in the Qwen team's remote code and in vLLM's pooling runner
(`Qwen2ForProcessRewardModel`, step pooling on the step-tag token). Class 1 of the head is
"this step is correct"; a PRM score is softmax(logits)[..., 1] at a step-tag position.
"""

import torch
from torch import nn
from transformers import Qwen2Config
from transformers.modeling_outputs import TokenClassifierOutput
from transformers.models.qwen2.modeling_qwen2 import Qwen2Model, Qwen2PreTrainedModel

IGNORE_INDEX = -100


class Qwen2ForProcessRewardModel(Qwen2PreTrainedModel):
    """Per-token 2-class logits `(batch, seq, 2)`; trainable with per-token `labels`.

    `labels` holds 0/1 at the positions that carry a step label (the step-tag tokens) and
    -100 elsewhere; the loss is the mean cross-entropy over the labelled positions.
    """

    config_class = Qwen2Config

    def __init__(self, config: Qwen2Config) -> None:
        config.num_labels = 2
        super().__init__(config)
        self.model = Qwen2Model(config)
        self.score = nn.Sequential(
            nn.Linear(config.hidden_size, config.hidden_size),
            nn.ReLU(),
            nn.Linear(config.hidden_size, 2),
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.embed_tokens = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs,
    ) -> TokenClassifierOutput:
        hidden = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=False,
            **kwargs,
        ).last_hidden_state
        logits = self.score(hidden)
        loss = None
        if labels is not None:
            if labels.shape != logits.shape[:2]:
                raise ValueError(f"labels shape {tuple(labels.shape)} != tokens shape {tuple(logits.shape[:2])}")
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, 2).float(), labels.reshape(-1).to(logits.device), ignore_index=IGNORE_INDEX
            )
        return TokenClassifierOutput(loss=loss, logits=logits)


def positive_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """P(step correct) from the head's logits: softmax over the two classes, class 1."""
    return torch.softmax(logits.float(), dim=-1)[..., 1]
