"""The FLOP model of a transformer, read from its Hugging Face style config.

Kaplan et al. (2020): a forward pass costs `2 * N + 2 * n_layer * n_ctx * d_attn` FLOPs per
token, with N the non-embedding parameters and n_ctx the context that token attends to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

_GATED_ACTIVATIONS = {"silu", "swiglu", "gelu_pytorch_tanh_gated", "geglu"}
_REQUIRED = ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")


@dataclass(frozen=True)
class ModelSpec:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    gated_mlp: bool
    qkv_bias: bool = False
    score_head: int = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | Any) -> ModelSpec:
        """Build from a config dict or object (e.g. `transformers.PretrainedConfig`).

        The MLP is gated (three matrices, as in Llama/Qwen/Mistral) when `mlp_type` says
        so or, failing that, when `hidden_act` is a gated activation such as SiLU; GPT-2
        style configs (`n_embd`, `n_layer`, `n_head`) are read too.
        """
        get = _getter(config)
        aliases = {"hidden_size": "n_embd", "num_hidden_layers": "n_layer", "num_attention_heads": "n_head"}
        values = {}
        for key in _REQUIRED:
            value = get(key, get(aliases.get(key, ""), None))
            if value is None:
                raise ValueError(f"model config lacks '{key}': cannot count its parameters")
            values[key] = int(value)
        hidden, heads = values["hidden_size"], values["num_attention_heads"]
        head_dim = int(get("head_dim", None) or hidden // heads)
        intermediate = int(get("intermediate_size", None) or get("n_inner", None) or 4 * hidden)
        mlp_type = get("mlp_type", None)
        if mlp_type is not None:
            gated = str(mlp_type).lower() in {"gated", "swiglu", "geglu", "glu"}
        else:
            gated = str(get("hidden_act", get("activation_function", "gelu"))).lower() in _GATED_ACTIVATIONS
        architectures = " ".join(get("architectures", None) or [])
        qkv_bias = bool(get("attention_bias", False)) or get("model_type", None) == "qwen2"
        # Qwen2.5-Math-PRM's head: Linear(h, h), ReLU, Linear(h, 2), run at every position.
        score_head = hidden * hidden + hidden + 2 * hidden + 2 if "ProcessRewardModel" in architectures else 0
        return cls(
            qkv_bias=qkv_bias,
            score_head=score_head,
            hidden_size=hidden,
            num_hidden_layers=values["num_hidden_layers"],
            num_attention_heads=heads,
            num_key_value_heads=int(get("num_key_value_heads", None) or heads),
            head_dim=head_dim,
            intermediate_size=intermediate,
            vocab_size=values["vocab_size"],
            tie_word_embeddings=bool(get("tie_word_embeddings", False)),
            gated_mlp=gated,
        )

    @property
    def d_attn(self) -> int:
        return self.num_attention_heads * self.head_dim

    @cached_property
    def n_nonembed(self) -> int:
        """Parameters of the transformer blocks, the final norm and any score head (Kaplan's N)."""
        d, kv = self.hidden_size, self.num_key_value_heads * self.head_dim
        attention = 2 * d * self.d_attn + 2 * d * kv + (self.d_attn + 2 * kv if self.qkv_bias else 0)
        mlp = (3 if self.gated_mlp else 2) * d * self.intermediate_size
        norms = 2 * d
        return self.num_hidden_layers * (attention + mlp + norms) + d + self.score_head

    @property
    def n_embed(self) -> int:
        copies = 1 if self.tie_word_embeddings else 2
        return copies * self.vocab_size * self.hidden_size

    @property
    def n_params(self) -> int:
        return self.n_nonembed + self.n_embed

    def flops_per_token(self, n_ctx: int) -> float:
        return 2.0 * self.n_nonembed + 2.0 * self.num_hidden_layers * n_ctx * self.d_attn

    def flops_span(self, start: int, count: int) -> float:
        """FLOPs of `count` consecutive tokens after `start` tokens of context.

        Token i (1-based within the span) attends to `start + i` positions, so the sum is
        exact: `count * 2N + 2 * n_layer * d_attn * sum(start+1 .. start+count)`.
        """
        if count <= 0:
            return 0.0
        positions = count * start + count * (count + 1) // 2
        return 2.0 * self.n_nonembed * count + 2.0 * self.num_hidden_layers * self.d_attn * positions

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "n_nonembed": self.n_nonembed, "n_params": self.n_params}


def _getter(config: Mapping[str, Any] | Any):
    if isinstance(config, Mapping):
        return lambda key, default: config.get(key, default) if key else default
    if hasattr(config, "to_dict"):
        as_dict = config.to_dict()
        return lambda key, default: as_dict.get(key, default) if key else default
    return lambda key, default: getattr(config, key, default) if key else default
