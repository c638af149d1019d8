"""The lockstep scheduler (`engine.scheduler: lockstep`): rounds.

Each round admits problems up to `max_concurrent`, hands back the finished ones, and then
submits the pending operation of every live problem in one `execute` call, so each round's
backend calls are as full as the live problems allow. A problem whose operation returns early
waits for the round's slowest.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from infscale.search.scheduler import Admission, Executor, ProblemRun, StopHook
from infscale.tasks.base import Problem


class Lockstep:
    def __init__(self, max_concurrent: int):
        self.max_concurrent = max_concurrent

    def run(
        self, problems: Sequence[Problem], executor: Executor, *, ordered: bool, stop: StopHook | None
    ) -> Iterator[ProblemRun]:
        yield from Admission(problems, executor, self.max_concurrent, ordered).cycle(stop, executor.execute)
