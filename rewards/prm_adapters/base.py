"""The shape every PRM adapter shares: build the model's input text for (question, steps),
find one read position per step, shorten over-long inputs without losing a step tag, and
turn the backbone's hidden states at those positions into scores in [0, 1].

Positions are found from character offsets of the tags this adapter itself inserted (never
by searching token ids, which a step's own text could contain), and the token there is
checked against the tag's id: a mismatch is an error, never a silent misalignment.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

_MAX_TRIMS = 256


# Optional per-checkpoint overrides of an adapter's step format (reward.<option> in the YAML).
ADAPTER_OPTIONS = ("step_tag", "system", "good_token", "bad_token", "good_token_id", "bad_token_id")


@dataclass(frozen=True)
class Encoding:
    """Token ids the reward model reads and, per step, the position its score is read at."""

    ids: tuple[int, ...]
    positions: tuple[int, ...]
    truncated: bool = False


class PRMAdapter:
    """One PRM family's input format and read-out. Subclasses set `model_class` (how the
    checkpoint loads) and implement `render` (offset-located tags) or `tokenize`, and `head`."""

    name = "base"
    add_special_tokens = False
    # The score at a step's tag depends only on the ids before it, and rendering more steps
    # only appends ids: a path's scores stand when steps are added (incremental scoring).
    prefix_stable = True
    model_class: Any = None  # a transformers model class whose from_pretrained loads the checkpoint

    def __init__(self, tokenizer: Any, options: Mapping[str, Any] | None = None) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(f"PRM adapter '{self.name}' needs a fast tokenizer (character offsets)")
        self.tokenizer = tokenizer
        self.options = dict(options or {})
        unknown = sorted(set(self.options) - set(ADAPTER_OPTIONS))
        if unknown:
            raise ValueError(
                f"reward.{unknown[0]} is not an option of PRM adapters (known: {', '.join(ADAPTER_OPTIONS)})"
            )

    # ---- model ----
    @classmethod
    def load_model(cls, path: str, **kwargs: Any) -> torch.nn.Module:
        return cls.model_class.from_pretrained(path, **kwargs)

    def head(self, model: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        """Scores in [0, 1], one per row of `hidden` (the backbone's states at read positions)."""
        raise NotImplementedError

    # ---- input ----
    def clean(self, step: str) -> str:
        return step.strip()

    def render(self, question: str, steps: Sequence[str]) -> tuple[str, list[int], int]:
        """(text, character index of each step's tag, id the tag token must have)."""
        raise NotImplementedError

    def read_offset(self) -> int:
        """Where the score is read relative to the tag token (0: at it; -1: the token before)."""
        return 0

    def tokenize(self, question: str, steps: Sequence[str]) -> tuple[list[int], list[int]]:
        text, tag_chars, tag_id = self.render(question, steps)
        encoded = self.tokenizer(text, add_special_tokens=self.add_special_tokens, return_offsets_mapping=True)
        ids, offsets = list(encoded["input_ids"]), encoded["offset_mapping"]
        positions = [self._token_at(offsets, char) for char in tag_chars]
        for k, position in enumerate(positions):
            if ids[position] != tag_id:
                token = self.tokenizer.convert_ids_to_tokens(ids[position])
                raise ValueError(
                    f"PRM adapter '{self.name}': the tag of step {k + 1} was tokenized as {token!r} "
                    f"(id {ids[position]}), not as the tag id {tag_id}"
                )
        return ids, [p + self.read_offset() for p in positions]

    @staticmethod
    def _token_at(offsets: Sequence[tuple[int, int]], char: int) -> int:
        for i, (start, end) in enumerate(offsets):
            if start <= char < end:
                return i
        raise ValueError(f"no token covers character {char} of the PRM input")

    def token_id(self, text: str) -> int:
        """Id of a single token: the vocabulary entry itself, else the last id of its encoding."""
        found = self.tokenizer.convert_tokens_to_ids(text)
        if isinstance(found, int) and found != self.tokenizer.unk_token_id:
            return found
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if not ids:
            raise ValueError(f"PRM adapter '{self.name}': {text!r} encodes to no token")
        return ids[-1]

    def encode(self, question: str, steps: Sequence[str], max_length: int) -> Encoding:
        """Ids and one read position per step, fitted into `max_length` tokens.

        Too long an input is shortened, longest step first (its text cut at a token
        boundary), then the question; every step keeps its tag, so k steps still yield k
        scores. That is announced with a warning. An input whose tags alone do not fit is
        an error. No steps: nothing to read, no tokens.
        """
        if not steps:
            return Encoding((), ())
        steps = [self.clean(s) for s in steps]
        ids, positions = self.tokenize(question, steps)
        original = len(ids)
        for _ in range(_MAX_TRIMS):
            if len(ids) <= max_length:
                break
            excess = len(ids) - max_length
            lengths = [len(self.tokenizer.encode(s, add_special_tokens=False)) for s in steps]
            longest = max(range(len(steps)), key=lambda i: lengths[i]) if steps else None
            if longest is not None and lengths[longest] > 0:
                steps[longest] = self._cut(steps[longest], lengths[longest] - excess)
            elif question:
                question = self._cut(question, len(self.tokenizer.encode(question, add_special_tokens=False)) - excess)
            else:
                raise ValueError(
                    f"PRM input of {len(steps)} steps needs {len(ids)} tokens even with empty steps; "
                    f"the model reads at most {max_length}"
                )
            ids, positions = self.tokenize(question, steps)
        else:
            raise ValueError(f"could not fit the PRM input into {max_length} tokens")
        if len(ids) < original:
            warnings.warn(
                f"PRM input of {original} tokens truncated to {len(ids)} (model context {max_length}): "
                f"steps shortened, each of the {len(steps)} steps keeps its tag and score",
                stacklevel=2,
            )
        return Encoding(tuple(ids), tuple(positions), truncated=len(ids) < original)

    def _cut(self, text: str, keep_tokens: int) -> str:
        """`text` cut after its first `keep_tokens` tokens (at least one token shorter)."""
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        keep = max(0, min(keep_tokens, len(offsets) - 1))
        return text[: offsets[keep - 1][1]] if keep > 0 else ""


def two_class_probability(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension of (n, 2) logits, probability of class 0."""
    return torch.softmax(logits.float(), dim=-1)[:, 0]
