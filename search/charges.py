"""The reuse model (`compute.reuse`): what an expansion's prompt and a scored path are charged.

The ledger charges the algorithm, not the cache's luck: every charge below is a function of
the search tree's text and the backends' token counts (`count_tokens`), never of what a
prefix cache happened to hold, so `flops.total` is the same whatever the problems are
interleaved with (`engine.max_concurrent`), however big the caches (`policy.cache_mb`,
`reward.cache_mb`) and on any backend. A charge is (computed, reused): `computed` tokens run
at positions `reused` .. `reused + computed - 1`, attending to the `reused` ones before them.

- `prefix` (default): an ideal prefix cache within one problem's search. A node's prompt is
  its parent's prompt plus the parent's step, so the first expansion of a node computes
  `L(node) - L(parent)` tokens (`L` = `policy.count_tokens(problem.prompt + solution)`; the
  root computes the whole problem prompt, once) and every later expansion of it computes
  none. A PRM path with `known` steps scored before (the engine asks for them only from a
  prefix-stable, incremental PRM: the nearest scored ancestor's scores stand) computes the
  tokens after the ones those steps fix (`reward.prefix_tokens(request)` where the backend
  knows them, else `count_tokens` of the known path); any other path is computed whole.
- `none`: nothing reused: every expansion computes its whole prompt, every path is read whole.

One expansion (all samples one `Expand` asks of a node) prefills its prompt once, however
the engine splits it into backend calls of `engine.max_batch`: the later calls are charged
(0, 0).
"""

from __future__ import annotations

from typing import Any

from infscale.search.backends import ScoreRequest
from infscale.search.node import Node

REUSE_MODELS = ("prefix", "none")

Charge = tuple[int | None, int | None]  # (computed, reused) tokens


def check_reuse(value: Any) -> str:
    if value not in REUSE_MODELS:
        raise ValueError(f"compute.reuse must be one of {', '.join(REUSE_MODELS)}, got {value!r}")
    return value


def prompt_charge(reuse: str, policy: Any, node: Node, length: int | None) -> Charge:
    """The prompt charge of the next expansion of `node`, whose prompt is `length` tokens.
    Under `prefix` a node already expanded (`node.expansions` > 0) computes nothing; a prompt
    shorter than its parent's (a tokenizer merging across the step boundary) nothing new."""
    if length is None:
        return None, None
    if reuse == "none":
        return length, 0
    if node.expansions > 0:
        return 0, length
    if node.parent is None:
        return length, 0
    parent = node.context  # the engine's count of the parent's prompt, which the step followed
    if parent is None:
        parent = policy.count_tokens(node.problem.prompt + node.parent.solution)
    if parent is None:
        return None, None
    reused = min(parent, length)
    return length - reused, reused


def path_charge(reuse: str, reward: Any, request: ScoreRequest, length: int | None) -> Charge:
    """The reward-model charge of scoring `request`, whose whole input is `length` tokens."""
    if length is None:
        return None, None
    if reuse == "none" or not request.known:
        return length, 0
    counter = getattr(reward, "prefix_tokens", None)
    if counter is not None:
        shared = counter(request)
    else:
        shared = reward.count_tokens(ScoreRequest(request.prompt, request.steps[: request.known]))
    if shared is None:
        return None, None
    shared = min(shared, length)
    return length - shared, shared
