"""Observed prefix reuse: the prompt tokens each backend reports served from its prefix cache.

The engine adds them up per backend in `Engine.calls` (`policy_prompt` / `policy_cached`,
`reward_prompt` / `reward_cached`, in tokens), whatever the scheduler, so the effect of
submitting requests that share a prefix together can be read off a run. Only what a backend
reports is counted (a replayed or plain-list result adds nothing). The ledger's charges are
not derived from these sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infscale.search.backends import GenerationResult, ScoreResult

REUSE_KEYS = ("policy_prompt", "policy_cached", "reward_prompt", "reward_cached")


def reported(result: Any) -> tuple[int, int] | None:
    """(input tokens, of them served from a cache) of one request's result, if its backend says."""
    if isinstance(result, GenerationResult):
        computed, cached = result.prompt_computed, result.prompt_cached
    elif isinstance(result, ScoreResult):
        computed, cached = result.computed, result.cached
    else:
        return None
    if computed is None or cached is None:
        return None
    return computed + cached, cached


def count_reuse(calls: dict[str, float], backend: str, results: Sequence[Any]) -> None:
    """Add one call's reported input and cached tokens to `calls[f"{backend}_prompt"]` and
    `calls[f"{backend}_cached"]`."""
    for result in results:
        counts = reported(result)
        if counts is not None:
            calls[f"{backend}_prompt"] += counts[0]
            calls[f"{backend}_cached"] += counts[1]


def cached_share(calls: dict[str, float], backend: str) -> float | None:
    """The fraction of `backend`'s reported input tokens served from its cache (None if none reported)."""
    total = calls.get(f"{backend}_prompt", 0)
    return calls[f"{backend}_cached"] / total if total else None
