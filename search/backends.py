"""What the engine asks of its backends: the policy and reward-model protocols.

The engine owns these interfaces (as vLLM's engine owns its worker interface); the
backends in `infscale.policies` and `infscale.rewards` implement them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from infscale.budgets.model_spec import ModelSpec

Until = Literal["step", "end"]
Finish = Literal["step", "end", "length"]


@dataclass(frozen=True)
class GenerationRequest:
    """Sample `n` continuations of `prompt`.

    Sample j must be drawn with seed `seed + j` and must not depend on the other requests
    of the call, so that the engine may split and pack requests freely without changing
    results. `until="step"` stops at `stop` (kept at the end of the text); `until="end"`
    runs to the end of the solution. `temperature == 0` is greedy decoding.
    """

    prompt: str
    n: int
    until: Until
    stop: str
    max_tokens: int
    temperature: float
    seed: int


@dataclass(frozen=True)
class Sample:
    text: str
    tokens: int | None
    finish: Finish


@dataclass(frozen=True)
class GenerationResult:
    """The samples of one request and what its prompt cost.

    `prompt_computed` + `prompt_cached` is the prompt length in tokens; the cached part was
    served from a prefix cache. Replayed samples have unknown counts (`None`).
    """

    samples: list[Sample]
    prompt_computed: int | None
    prompt_cached: int | None


class Policy(Protocol):
    name: str
    spec: ModelSpec | None

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]: ...

    def count_tokens(self, text: str) -> int | None:
        """Tokens of `text` as a prompt; used to reserve worst-case cost before a call."""
        ...

    # Optional: `preferred_batch: int`, the sequences per call the backend runs best at, which
    # `engine.max_batch: auto` follows (search/batching.py; 256 where it is absent).


@dataclass(frozen=True)
class ScoreRequest:
    """A trajectory to score: the problem's prompt and the steps generated after it.

    `known` > 0 asks a prefix-stable PRM for the scores of `steps[known:]` only: the first
    `known` steps were scored before (as a trajectory of their own) and their scores stand.
    """

    prompt: str
    steps: tuple[str, ...]
    known: int = 0


class ScoreResult(list):
    """The scores of one request (a list of floats) and what computing them cost.

    `computed` reward-model tokens were run at positions `cached` .. `cached + computed - 1`;
    the first `cached` positions were served from a prefix (KV) cache. A backend that asks
    nothing of a cache may return a plain list: the engine then charges the whole input
    (`count_tokens`) as computed, which it only accepts for a request with `known == 0`.
    """

    def __init__(self, scores: list[float], computed: int | None, cached: int | None) -> None:
        super().__init__(scores)
        self.computed, self.cached = computed, cached


class RewardModel(Protocol):
    """A PRM returns len(steps) - known scores per request; an ORM (`outcome = True`) one.

    Capabilities the engine reads, with their defaults (a backend subclassing this protocol
    inherits them, and sets the ones it has): `outcome`, one score per trajectory instead of
    one per step; `incremental`, the engine may send `known` > 0 (the reward model is
    prefix-stable and configured to score only new steps); `preferred_batch`, the paths per
    call it runs best at, which `engine.max_batch: auto` follows (search/batching.py; None: 256).
    """

    name: str
    spec: ModelSpec | None
    outcome: bool = False
    incremental: bool = False
    preferred_batch: int | None = None

    def score(self, requests: list[ScoreRequest]) -> list[list[float]]: ...

    def count_tokens(self, request: ScoreRequest) -> int | None:
        """Tokens the reward model reads to score `request` (for the ledger)."""
        ...

    # Optional: `prefix_tokens(request) -> int`, the leading input positions of `request` its
    # `known` steps fix (what a prefix cache holds from scoring them). Without it the reuse
    # model (search/charges.py) takes `count_tokens` of the known path.


class BackendError(RuntimeError):
    """A backend failed for good (a server down past its deadline, a malformed reply): the
    message is one line naming the backend, the endpoint and the last thing it said."""
