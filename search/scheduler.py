"""Scheduling inside one process: which problems start, in what order they are handed back,
and when each live problem's pending operation is submitted.

The engine keeps what strategies and backends need: each problem's generator, tree and
ledger, the budget checks and charges, and the packing of operations into backend calls. A
`Scheduler` keeps time: it admits problems (at most `max_concurrent` held at once), chooses
which live problems' operations go out together, and hands every finished problem back. It
reaches the engine only through an `Executor`. Every problem's sampling seeds are its own, so
the records do not depend on the scheduler. `engine.scheduler` names one (search/engine.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from infscale.budgets.ledger import Ledger
from infscale.search.jobs import Job
from infscale.search.node import Node, Tree
from infscale.search.ops import Decision, Expand, Score
from infscale.search.strategy import Run
from infscale.tasks.base import Problem

StopHook = Callable[[], bool]  # asked before more work is submitted; true ends the run


@dataclass
class ProblemRun:
    """One problem in flight: its strategy's generator (`steps`) parked on the pending
    operation `op`, or, once the strategy has returned, its `decision`."""

    index: int  # position in the problems given to the run
    tree: Tree
    ledger: Ledger
    steps: Run
    op: Expand | Score | None = None
    reply: list[Node] = field(default_factory=list)
    decision: Decision | None = None
    wall_s: float = 0.0


class Executor(Protocol):
    """What the engine does for a scheduler, within one call of `Engine.run`."""

    def start(self, index: int, problem: Problem) -> ProblemRun:
        """A new (or resumed) problem, its strategy run to its first operation or decision."""
        ...

    def execute(self, runs: Sequence[ProblemRun]) -> None:
        """Submit the pending operations of `runs` together (their `Expand`s packed into
        policy calls, their `Score`s into reward calls), charge each problem's ledger and send
        each result to its strategy, which parks on its next operation or decides."""
        ...


class SplitExecutor(Executor, Protocol):
    """An executor whose `execute` comes apart, so a scheduler can keep calls to different
    backends in flight at once and batch requests as they arrive (search/continuous.py).

    `prepare`, `settle` and `complete` change the engine's state and are called from one
    thread; `call` makes a backend call only and may run on any thread.
    """

    max_batch: int  # sequences per backend call
    batch_wait_s: float  # how long an idle backend may wait for more requests
    order_sensitive: bool  # results depend on the order operations are issued (a data-set pool)

    def prepare(self, run: ProblemRun) -> tuple[str, list[Job]]:
        """The backend ("policy" or "reward") and the jobs of `run`'s pending operation, its
        budget checks, seeds and reservations done. No jobs: `complete` it at once."""
        ...

    def call(self, backend: str, batch: list[Job]) -> tuple[list[Any], float]:
        """One backend call: the results of `batch`'s requests and the seconds it took."""
        ...

    def settle(self, backend: str, batch: list[Job], results: list[Any], seconds: float) -> None:
        """Attach (or set) and charge one call's results, in the order of `batch`."""
        ...

    def complete(self, run: ProblemRun, jobs: list[Job]) -> None:
        """Send `run` the answer to its operation (all its `jobs` settled); its strategy parks
        on the next operation or decides."""
        ...


class Scheduler(Protocol):
    """Admission, ordering and stepping of the problems of one `Engine.run` call.

    `run` yields each problem's run once it has a decision: in the order given, or with
    `ordered=False` as soon as it may. `stop()`, asked before new work is submitted, ends
    the run early: nothing more is issued and unfinished problems are dropped. A scheduler may
    submit any subset of the live problems in one `execute` call; each problem has one
    pending operation at a time.
    """

    max_concurrent: int

    def run(
        self, problems: Sequence[Problem], executor: Executor, *, ordered: bool, stop: StopHook | None
    ) -> Iterator[ProblemRun]: ...


class Admission:
    """Problems started in the order given while fewer than `max_concurrent` are held (live, or
    finished and not yet handed back), and finished ones handed back in order or as they come."""

    def __init__(self, problems: Sequence[Problem], executor: Executor, max_concurrent: int, ordered: bool):
        self._queue = iter(enumerate(problems))
        self._executor, self._max, self._ordered = executor, max_concurrent, ordered
        self.live: dict[int, ProblemRun] = {}
        self._finished: dict[int, ProblemRun] = {}
        self._emitted = 0
        self.exhausted = False

    def admit(self) -> None:
        while not self.exhausted and len(self.live) + len(self._finished) < self._max:
            item = next(self._queue, None)
            if item is None:
                self.exhausted = True
                break
            run = self._executor.start(*item)
            (self.live if run.decision is None else self._finished)[run.index] = run

    def cycle(self, stop: StopHook | None, step: Callable[[list[ProblemRun]], None]) -> Iterator[ProblemRun]:
        """Admit, hand back the finished problems, `step` the live ones (send some or all of
        their operations, take what has come back), retire the decided; until every problem is
        handed back or `stop()`."""
        while stop is None or not stop():
            self.admit()
            yield from self.ready()
            if not self.live:
                if self.exhausted:
                    break
                continue
            step(list(self.live.values()))
            self.retire()

    def retire(self) -> None:
        """Move the live problems that have decided to the finished ones."""
        for index in [i for i, run in self.live.items() if run.decision is not None]:
            self._finished[index] = self.live.pop(index)

    def ready(self) -> Iterator[ProblemRun]:
        """The finished problems that may be handed back now."""
        while not self._ordered and self._finished:
            yield self._finished.pop(next(iter(self._finished)))
        while self._emitted in self._finished:
            yield self._finished.pop(self._emitted)
            self._emitted += 1
