"""Jobs: the engine's unit of backend work, how they are packed into calls, and their share
of a data-set `Pool`.

A job is one request (a policy expansion of `cost` samples, or one reward trajectory) for one
node of one problem. Jobs are packed into backend calls of at most `max_batch` sequences. With
a pool, a call's worst case is reserved only while the call is in flight: `issue` reserves it
just before the call goes out (drawing a policy job in parts where its whole worst case does
not fit, refusing what does not fit at all) and `settle_reservation` releases it, charging what
the problem's ledger was actually charged, when its result is in (see budgets/pool.py). So the
pool refuses an operation, never the run, and what a call did not use is free for the next.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from infscale.budgets.ledger import Ledger
from infscale.budgets.pool import Pool, Reservation
from infscale.search.node import Node


@dataclass(frozen=True)
class WorstCase:
    """The most a job can cost: `fixed` FLOPs once (its prompt, or a reward trajectory read
    whole) plus `each` FLOPs and `tokens` generated tokens per sample (0 for a reward job)."""

    fixed: float | None
    each: float | None = 0.0
    tokens: int = 0

    def flops(self, count: int) -> float | None:
        return None if self.fixed is None or self.each is None else self.fixed + count * self.each

    def without_prompt(self) -> WorstCase:
        """The worst case of a later call of one expansion: its prompt is charged once, in the first."""
        return dataclasses.replace(self, fixed=None if self.fixed is None else 0.0)


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
    worst: WorstCase | None = None
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


def split_calls(pool: Pool | None, max_batch: int, fit: int, worst: WorstCase) -> list[tuple[int, int]]:
    """`fit` samples as calls of at most `max_batch`: (offset, count) per call; none if the
    pool's remainder cannot pay one sample's worst case even with nothing else in flight (the
    operation is refused; `issue` cuts it further when its call goes out)."""
    if pool is not None and fit > 0 and pool.affordable(1, worst.tokens, worst.fixed, worst.each) == 0:
        return []
    return [(offset, min(max_batch, fit - offset)) for offset in range(0, fit, max_batch)]


def issue(pool: Pool | None, jobs: list[Job], max_batch: int, split: bool = True) -> Iterator[list[Job]]:
    """`jobs` packed into calls of at most `max_batch` sequences, in order, as `pack` does; with
    a pool, each job's worst case is reserved as it joins its call. The caller settles a call's
    jobs before it asks for the next, so only the call in flight holds a reservation. A job
    whose worst case does not fit beside the call's others starts the next call; one that does
    not fit with nothing else in flight is drawn in parts, each as many samples as fit (sample
    j keeps seed `seed + j`), until it is done or not one more sample fits: then the rest of it
    is refused, and the jobs after it are tried in turn. With `split=False` (a per-problem FLOP
    cap, whose check counted one prompt per job, not one per part) the first part is all."""
    if pool is None:
        yield from pack(jobs, max_batch)
        return
    queue, batch, size = deque(jobs), [], 0
    while queue:
        job = queue[0]
        fit = _fit(pool, job)
        if batch and (size + job.cost > max_batch or fit < job.cost):
            yield batch
            batch, size = [], 0
            continue
        if fit == 0:
            queue.popleft()
            continue
        rest = job.cost - fit
        _reserve(pool, job, fit)
        batch.append(job)
        size += job.cost
        if rest == 0 or not split:
            queue.popleft()
            continue
        yield batch
        batch, size = [], 0
        job.request = dataclasses.replace(job.request, n=rest, seed=job.request.seed + fit)
        job.cost, job.charge, job.worst = rest, (0, 0), job.worst.without_prompt()
    if batch:
        yield batch


def _fit(pool: Pool, job: Job) -> int:
    """How many of the job's samples fit in what the pool has neither spent nor reserved."""
    worst = job.worst
    if worst.tokens > 0:
        return pool.affordable(job.cost, worst.tokens, worst.fixed, worst.each)
    over = pool.total_flops is not None and worst.fixed is not None and worst.fixed > pool.left_flops
    return 0 if over else job.cost  # a reward job: whole or not at all


def _reserve(pool: Pool, job: Job, count: int) -> None:
    """Reserve the worst case of the job's first `count` samples, cutting the job to them."""
    job.reservation = pool.reserve(job.worst.flops(count), count * job.worst.tokens)
    if job.reservation is None:  # (`_fit` said it fits: the pool's two checks disagree)
        raise RuntimeError(f"the pool could not reserve {count} samples it said fit")
    if count < job.cost:
        job.request, job.cost = dataclasses.replace(job.request, n=count), count


def ledger_mark(job: Job, ledger: Ledger) -> tuple[float | None, int | None] | None:
    """The ledger's FLOPs and generated tokens before `job`'s result is charged, which
    `settle_reservation` needs; None for a job with no pool reservation (nothing to settle)."""
    return None if job.reservation is None else (ledger.flops_total, ledger.generated)


def settle_reservation(
    pool: Pool | None, job: Job, before: tuple[float | None, int | None] | None, ledger: Ledger
) -> None:
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
