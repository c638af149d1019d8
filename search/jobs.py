"""Jobs: the engine's unit of backend work, how they are packed into calls, and their share
of a data-set `Pool`.

A job is one request (a policy expansion of `cost` samples, or one reward trajectory) for one
node of one problem. Jobs are packed into backend calls of at most `max_batch` sequences. With
a pool, a job reserves its worst case before it is issued and is settled with what its
problem's ledger was actually charged once its result is in (see budgets/pool.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from infscale.budgets.ledger import Ledger
from infscale.budgets.pool import Pool, Reservation
from infscale.search.node import Node


@dataclass
class Job:
    run: Any  # the engine's per-problem state (tree, ledger, reply)
    node: Node
    request: Any
    context: int | None = None
    cost: int = 1
    children: list[Node] = field(default_factory=list)
    known: list[float] = field(default_factory=list)
    reservation: Reservation | None = None
    charge: tuple[int | None, int | None] = (0, 0)  # (computed, reused) tokens the reuse model charges


def pack(jobs: list[Job], max_batch: int) -> Iterator[list[Job]]:
    """Consecutive jobs into calls of at most `max_batch` sequences."""
    batch, size = [], 0
    for job in jobs:
        if batch and size + job.cost > max_batch:
            yield batch
            batch, size = [], 0
        batch.append(job)
        size += job.cost
    if batch:
        yield batch


def reserve_chunks(
    pool: Pool | None, max_batch: int, fit: int, limit: int, fixed: float | None, each: float | None
) -> list[tuple[int, int, Reservation | None]]:
    """Split `fit` samples into calls of at most `max_batch`, each reserved from the pool
    (worst case: every sample `limit` tokens, and the expansion's prompt charge `fixed` in its
    first call, search/charges.py); the pool may cut the last calls short. Returns (offset,
    count, reservation) per call."""
    chunks, offset = [], 0
    while offset < fit:
        count = min(max_batch, fit - offset)
        prompt = fixed if offset == 0 else 0.0
        reservation = None
        if pool is not None:
            count = pool.affordable(count, limit, prompt, each)
            if count == 0:
                break
            flops = None if prompt is None or each is None else prompt + count * each
            reservation = pool.reserve(flops, count * limit)
        chunks.append((offset, count, reservation))
        offset += count
    return chunks


def settle_reservation(pool: Pool | None, job: Job, before: tuple[float | None, int | None], ledger: Ledger) -> None:
    """Release a job's pool reservation, charging the pool what its ledger was charged since
    `before` (the ledger's FLOPs and generated tokens when the job's result came in)."""
    if job.reservation is None:
        return
    flops = None if before[0] is None or ledger.flops_total is None else ledger.flops_total - before[0]
    tokens = None if before[1] is None or ledger.generated is None else ledger.generated - before[1]
    if pool.total_flops is not None and flops is None:
        raise ValueError("budget.total_flops needs FLOP counts, and this backend reports none")
    if pool.total_tokens is not None and tokens is None:
        raise ValueError("budget.total_tokens needs token counts, and this policy reports none")
    pool.settle(job.reservation, flops, tokens)
