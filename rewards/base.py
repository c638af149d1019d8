"""The reward-model protocol: one score in [0, 1] per step of each trajectory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from infscale.budgets.model_spec import ModelSpec


@dataclass(frozen=True)
class ScoreRequest:
    """A trajectory to score: the problem's prompt and the steps generated after it."""

    prompt: str
    steps: tuple[str, ...]


class RewardModel(Protocol):
    """A PRM returns len(steps) scores per request; an ORM (`outcome = True`) returns one."""

    name: str
    spec: ModelSpec | None
    outcome: bool

    def score(self, requests: list[ScoreRequest]) -> list[list[float]]: ...

    def count_tokens(self, request: ScoreRequest) -> int | None:
        """Tokens the reward model reads to score `request` (for the ledger)."""
        ...
