"""`engine.max_batch`: how many sequences go into one backend call.

A backend may declare `preferred_batch`, the call size it runs best at: vLLM (policy and PRM)
and the served backends (OpenAI-compatible policy, remote PRM) pay a fixed cost per call and
schedule their own batches inside one, so they ask for 2048 (BENCHMARKS.md, "Beam search
against search-and-learn on vLLM"); the in-process transformers backends ask for 256.
`engine.max_batch: auto` (the default) takes the largest preference of the policy and the
reward model, `DEFAULT` for one that declares none. The larger is safe for the other backend:
the ones that hold a batch in memory split a call into their own forward passes
(`policy.max_batch`, `reward.batch_size`). An explicit number wins. The charges do not
depend on it (search/charges.py), nor the samples on a batch-invariant backend (a float32
CPU backend that is not can flip a near tie: BENCHMARKS.md, "Lockstep vs continuous").
"""

from __future__ import annotations

from typing import Any

AUTO = "auto"
DEFAULT = 256  # sequences per call for a backend that names no preference
LARGE = 2048  # for a backend that schedules its own batches inside a call (vLLM, a server)


def preferred_batch(backend: Any) -> int:
    """`backend.preferred_batch`, or `DEFAULT` where it has none (None or no attribute)."""
    value = getattr(backend, "preferred_batch", None)
    if value is None:
        return DEFAULT
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{type(backend).__name__}.preferred_batch must be a positive integer, got {value!r}")
    return value


def resolve_max_batch(value: Any, policy: Any, reward: Any | None) -> int:
    """`engine.max_batch` as a number: `value` itself, or under `auto` the backends' choice."""
    if value == AUTO:
        return max((preferred_batch(b) for b in (policy, reward) if b is not None), default=DEFAULT)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"engine.max_batch must be a positive integer or '{AUTO}', got {value!r}")
    return value
