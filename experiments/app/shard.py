"""One run's problems split over `shard.count` separate runs (`shard.index` 0-based).

Problem i of the selected problems (the first `n_problems`) goes to shard i % count. Round-robin
rather than contiguous ranges: a task's order often follows difficulty or length (MATH500 by
subject and level), and interleaving gives every shard the same mix, so shards finish at
about the same time; and extending `n_problems` later never moves a problem to another shard.
Seeds derive from (seed, problem id) in the engine, so a problem's record is the same in
whichever shard it runs; `infscale-collect` merges the shards back (experiments/analysis/shards.py).

A run with count 1 is the plain run: its run id and stored fingerprint leave `shard` out,
exactly as before sharding existed, so old run folders still resume.

A data-set pool (`budget.total_flops`, `budget.total_tokens`) is divided among the shards in
proportion to their problems: a shard of k of the n selected problems gets total * k / n,
rounded down (whole tokens; the float at or below the exact share), so the shares never add
up to more than the pool, and each shard's allocator plans over its own problems and share.
A sharded allocated run is therefore k allocations, not the unsharded one: what an allocator
would move between problems of different shards stays in each shard.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

from infscale.budgets.pool import Pool

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

    def pool(self, pool: Pool | None, selected: int) -> Pool | None:
        """This shard's part of the run's data-set pool `pool`, over `selected` problems in all
        (before the split): each total times size / selected, rounded down."""
        if pool is None or not self.sharded:
            return pool
        size = self.size(selected)
        if size == 0:
            raise ValueError(
                f"shard.index={self.index} with shard.count={self.count} holds none of the {selected} problems, "
                "so it has no share of the pool: use fewer shards"
            )
        return dataclasses.replace(
            pool,
            total_flops=_share(pool.total_flops, size, selected),
            total_tokens=_share(pool.total_tokens, size, selected),
        )


def _share(total: float | int | None, size: int, selected: int) -> float | int | None:
    """total * size / selected, rounded down: shares of all shards add up to at most total."""
    if total is None:
        return None
    exact = Fraction(total) * size / selected
    if isinstance(total, int):
        return math.floor(exact)
    share = float(exact)
    return share if Fraction(share) <= exact else math.nextafter(share, 0.0)


def shard_of(config: Any) -> Shard:
    """The config's shard (a DictConfig or a plain dict); a bad pair is one line naming the keys."""
    node = config.get("shard") or {}
    count, index = node.get("count", 1), node.get("index", 0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"shard.count={count}: must be a whole number >= 1 (1: no sharding)")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
        raise ValueError(f"shard.index={index} with shard.count={count}: the index must be 0 .. {count - 1}")
    return Shard(count, index)


def without_default(resolved: dict[str, Any]) -> dict[str, Any]:
    """`resolved` less its `shard` key where that is the unsharded default (count 1)."""
    shard = resolved.get("shard")
    if isinstance(shard, dict) and shard.get("count", 1) == 1:
        return {k: v for k, v in resolved.items() if k != "shard"}
    return resolved
