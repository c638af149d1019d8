"""The continuous scheduler (`engine.scheduler: continuous`): no rounds.

A problem's next operation is submitted as soon as its previous one has returned, to the
dispatcher of its backend (search/dispatch.py), which batches requests as they arrive. So
the backends hold work of many problems at different depths, a problem whose step came back
early does not wait for the slowest of a round, and while the reward model scores some
problems the policy generates for others (each backend's calls run on a thread of their
own). Strategies, generators parked on one operation each, do not change.

Records are the ones lockstep gives: every problem's operations run in its own order, its
jobs are attached in the order they were prepared (node ids follow), and its sampling seeds
are its own. What does depend on timing is what two problems share: a data-set pool's
reservations are made in the order operations are issued, so with a pool (`order_sensitive`)
this scheduler steps in lockstep rounds instead; and the prompt tokens a backend's prefix
cache serves (counted in `Engine.calls`, search/reuse.py). A problem's `wall_s` is still its
share of each call it was in plus its strategy's own time; policy and reward calls overlap
here, so the problems' shares may add up to more than the run's wall time.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence

from infscale.search.dispatch import Completed, Dispatcher
from infscale.search.jobs import Job
from infscale.search.lockstep import Lockstep
from infscale.search.scheduler import Admission, ProblemRun, SplitExecutor, StopHook
from infscale.tasks.base import Problem

BACKENDS = ("policy", "reward")


class Continuous(Lockstep):
    """Lockstep's admission and hand-back, without its rounds (lockstep's rounds where issue
    order is part of the result)."""

    def run(
        self, problems: Sequence[Problem], executor: SplitExecutor, *, ordered: bool, stop: StopHook | None
    ) -> Iterator[ProblemRun]:
        if executor.order_sensitive:
            yield from super().run(problems, executor, ordered=ordered, stop=stop)
            return
        flow = _InFlight(executor)
        try:
            yield from Admission(problems, executor, self.max_concurrent, ordered).cycle(stop, flow.step)
        except BaseException:
            # an error, a signal or a consumer that stopped reading: a call still running is
            # left to end on its daemon thread (its result dropped), so a stop is at once
            flow.close(wait=False)
            raise
        flow.close()


class _InFlight:
    """The operations out at the dispatchers, and their results coming back."""

    def __init__(self, executor: SplitExecutor) -> None:
        self.executor = executor
        self.done: queue.SimpleQueue[Completed] = queue.SimpleQueue()
        self.dispatchers = {
            name: Dispatcher(name, executor.call, executor.max_batch, executor.batch_wait_s, self.done)
            for name in BACKENDS
        }
        self.waiting: dict[int, tuple[ProblemRun, list[Job]]] = {}  # by problem: its run and jobs out
        self.left: dict[int, int] = {}  # by problem: its jobs not yet settled

    def step(self, live: list[ProblemRun]) -> None:
        """Send the operations of the live problems that have none out, then take what comes back."""
        for run in live:
            if run.index not in self.waiting:
                self.submit(run)
        if self.waiting:
            self.wait()

    def submit(self, run: ProblemRun) -> None:
        """Send `run`'s pending operation out (an operation with nothing to call is answered
        at once, and the next one sent, until one goes out or the strategy decides)."""
        while run.decision is None:
            backend, jobs = self.executor.prepare(run)
            if jobs:
                self.waiting[run.index], self.left[run.index] = (run, jobs), len(jobs)
                self.dispatchers[backend].put(jobs)
                return
            self.executor.complete(run, [])

    def wait(self) -> None:
        """Settle at least one call's results (blocking until one is in), and complete each
        operation all of whose jobs are settled."""
        if self.done.empty() and not any(d.busy for d in self.dispatchers.values()):
            for dispatcher in self.dispatchers.values():
                dispatcher.flush()  # nothing is running that could add to a batch
        items = [self.done.get()]
        while not self.done.empty():
            items.append(self.done.get())
        for item in items:
            if item.error is not None:
                raise item.error
            self.executor.settle(item.backend, item.batch, item.results, item.seconds)
            for job in item.batch:
                index = job.run.index
                self.left[index] -= 1
                if not self.left[index]:
                    run, jobs = self.waiting.pop(index)
                    del self.left[index]
                    self.executor.complete(run, jobs)

    def close(self, wait: bool = True) -> None:
        for dispatcher in self.dispatchers.values():
            dispatcher.close(wait)
