"""One backend's calls made from a thread of their own, batched as requests arrive.

The continuous scheduler (search/continuous.py) hands each problem's pending operation, as
the engine's jobs for it (search/jobs.py), to the dispatcher of its backend. A dispatcher
thread makes one call at a time: when its backend is free it takes what is queued, up to
`max_batch` sequences, after waiting at most `wait_s` from the oldest queued request for
more to arrive (or less, when told that no more can come: `flush`). Calls of different
backends run at the same time, so the policy generates for some problems while the reward
model scores others; backends release the GIL in torch, vLLM and httpx.

Prefix-aware batching: one operation's jobs (the nodes of one problem) form a group that
goes out in one call whenever it fits, and inside a call requests are ordered by problem and
then by text, so the nodes that share steps sit next to each other for a prefix cache to
serve. Results come back in the order the jobs were queued, whatever the order sent.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infscale.search.jobs import Job

BackendCall = Callable[[str, list[Job]], tuple[list[Any], float]]  # (backend, jobs) -> (results, seconds)


@dataclass
class Completed:
    """One finished call: its jobs in the order they were queued, and their results (or the error)."""

    backend: str
    batch: list[Job]
    results: list[Any] | None
    seconds: float
    error: BaseException | None = None


@dataclass
class _Group:
    arrived: float
    order: int  # arrival number, the problems' order inside a call
    jobs: list[Job]


def text_of(request: Any) -> tuple:
    """What a request reads, for ordering: a prompt, or a prompt and its steps."""
    return (request.prompt, *getattr(request, "steps", ()))


class Dispatcher:
    """The calls of one backend (`call` runs them), on a daemon thread, results posted to `done`."""

    def __init__(self, backend: str, call: BackendCall, max_batch: int, wait_s: float, done: queue.SimpleQueue) -> None:
        self.backend, self._call, self._max, self._wait, self._done = backend, call, max_batch, wait_s, done
        self._groups: deque[_Group] = deque()
        self._queued = 0  # sequences queued
        self._arrivals = 0
        self._flush = self._closed = False
        self.busy = False  # a call is in progress
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name=f"infscale-{backend}", daemon=True)
        self._thread.start()

    def put(self, jobs: list[Job]) -> None:
        """Queue one operation's jobs (a group kept together in a call where it fits)."""
        with self._ready:
            self._groups.append(_Group(time.monotonic(), self._arrivals, list(jobs)))
            self._arrivals += 1
            self._queued += sum(job.cost for job in jobs)
            self._ready.notify()

    def flush(self) -> None:
        """No more requests can come until a call returns: send what is queued without waiting."""
        with self._ready:
            if self._groups:
                self._flush = True
                self._ready.notify()

    def close(self, wait: bool = True) -> None:
        """Stop taking work (what is queued is dropped); with `wait`, wait for the call in
        progress to return."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        if wait:
            self._thread.join()

    def _loop(self) -> None:
        while True:
            taken = self._next_batch()
            if taken is None:
                return
            batch = [job for _, job in taken]
            try:
                done = Completed(self.backend, batch, *self._ordered_call(taken))
            except BaseException as error:  # handed to the scheduler's thread, which raises it
                done = Completed(self.backend, batch, None, 0.0, error)
            self._done.put(done)
            self.busy = False

    def _next_batch(self) -> list[tuple[int, Job]] | None:
        with self._ready:
            while not self._groups and not self._closed:
                self._ready.wait()
            deadline = self._groups[0].arrived + self._wait if self._groups else 0.0
            while not self._closed and not self._flush and self._queued < self._max:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._ready.wait(left)
            if self._closed:
                return None
            self._flush, self.busy = False, True
            return self._take()

    def _take(self) -> list[tuple[int, Job]]:
        """Whole groups in arrival order while they fit in `max_batch` sequences; a first group
        larger than that is split (its leading jobs go, at least one)."""
        taken: list[tuple[int, Job]] = []
        size = 0
        while self._groups:
            group = self._groups[0]
            cost = sum(job.cost for job in group.jobs)
            if taken and size + cost > self._max:
                break
            if size + cost <= self._max:
                self._groups.popleft()
                part = group.jobs
            else:
                part, room = [], self._max
                while group.jobs and (not part or group.jobs[0].cost <= room):
                    room -= group.jobs[0].cost
                    part.append(group.jobs.pop(0))
            taken += [(group.order, job) for job in part]
            size += sum(job.cost for job in part)
            if size >= self._max:
                break
        self._queued -= size
        return taken

    def _ordered_call(self, taken: list[tuple[int, Job]]) -> tuple[list[Any], float]:
        """The call with requests ordered by problem, then text; results back in queued order."""
        sent = sorted(range(len(taken)), key=lambda i: (taken[i][0], text_of(taken[i][1].request)))
        results, seconds = self._call(self.backend, [taken[i][1] for i in sent])
        if len(results) != len(taken):
            return results, seconds  # the engine names the mismatch
        back: list[Any] = [None] * len(taken)
        for position, i in enumerate(sent):
            back[i] = results[position]
        return back, seconds
