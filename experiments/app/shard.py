"""One run's problems split over `shard.count` separate runs (`shard.index` 0-based).

Problem i of the selected problems (the first `n_problems`) goes to shard i % count. Round-robin
rather than contiguous ranges: a task's order often follows difficulty or length (MATH500 by
subject and level), and interleaving gives every shard the same mix, so shards finish at
about the same time; and extending `n_problems` later never moves a problem to another shard.
Seeds derive from (seed, problem id) in the engine, so a problem's record is the same in
whichever shard it runs; `infscale-collect` merges the shards back (experiments/analysis/shards.py).

A run with count 1 is the plain run: its run id and stored fingerprint leave `shard` out,
exactly as before sharding existed, so old run folders still resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    count: int = 1
    index: int = 0

    @property
    def sharded(self) -> bool:
        return self.count > 1

    def suffix(self) -> str:
        """The run id's tail: `-shard2of8` (empty for the unsharded run)."""
        return f"-shard{self.index}of{self.count}" if self.sharded else ""

    def select(self, items: Sequence[T]) -> list[T]:
        return list(items[self.index :: self.count])

    def size(self, total: int) -> int:
        """How many of `total` problems this shard holds."""
        return len(range(self.index, total, self.count))


def shard_of(config: Any) -> Shard:
    """The config's shard (a DictConfig or a plain dict); a bad pair is one line naming the keys."""
    node = config.get("shard") or {}
    count, index = node.get("count", 1), node.get("index", 0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"shard.count={count}: must be a whole number >= 1 (1: no sharding)")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
        raise ValueError(f"shard.index={index} with shard.count={count}: the index must be 0 .. {count - 1}")
    return Shard(count, index)


def check(config: Any) -> Shard:
    """`shard_of`, and refuse sharding a run whose problems are not independent."""
    shard = shard_of(config)
    allocator = (config.get("allocator") or {}).get("name", "none")
    if shard.sharded and allocator not in (None, "none"):
        raise ValueError(
            f"shard.count={shard.count} with allocator={allocator}: an allocator plans over all of a run's "
            "problems, so its shards would not add up to the unsharded run; run it unsharded (shard.count=1)"
        )
    return shard


def without_default(resolved: dict[str, Any]) -> dict[str, Any]:
    """`resolved` less its `shard` key where that is the unsharded default (count 1)."""
    shard = resolved.get("shard")
    if isinstance(shard, dict) and shard.get("count", 1) == 1:
        return {k: v for k, v in resolved.items() if k != "shard"}
    return resolved
