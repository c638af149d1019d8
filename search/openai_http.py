"""HTTP for the served backends (`policy=openai`, `reward=remote_prm`): one kept
`httpx.Client` per backend, one POST to an OpenAI-compatible endpoint sorted into a reply, a
failure worth another try, or a one-line error, and the tries of one request with backoff.

The client keeps connections alive between requests (vLLM's server speaks HTTP/1.1 with
keep-alive), at most `concurrency` of them (`httpx.Limits`). Its timeout applies to each phase
of a request (connect, send, wait for a free connection, each read) as the socket timeout of
`urllib` did; every try gets its own, cut to what is left of the request's deadline. Retrying
is done here (`Retrier`) rather than by httpx's transport, which retries only connection
failures, at once and without backoff, and would hide tries from the deadline, the count and
the warnings. Requests run on daemon threads (`run_all`) and the caller waits in short slices,
so Ctrl-C stops a call within a second.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from infscale.search.backends import BackendError

T = TypeVar("T")
_TRANSIENT_HTTP = {408, 409, 425, 429, 500, 502, 503, 504}
_PHASES = {httpx.ConnectTimeout: "connect", httpx.ReadTimeout: "read", httpx.WriteTimeout: "write"}
WARN_EVERY_S = 10.0


class TransientError(RuntimeError):
    """A failure worth retrying (the server is down, restarting or overloaded)."""


class Cancelled(Exception):
    """The call this request belongs to was abandoned (Ctrl-C, or another request failed)."""


def new_client(concurrency: int, timeout_s: float, api_key: str | None) -> httpx.Client:
    """A client for up to `concurrency` requests at once over kept-alive connections."""
    return httpx.Client(
        headers={"Authorization": f"Bearer {api_key}"} if api_key else None,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        timeout=httpx.Timeout(timeout_s),
    )


def post_json(client: httpx.Client, endpoint: str, body: dict[str, Any], timeout_s: float, who: str) -> Any:
    """The JSON that `endpoint` answers to `body`. Connection failures, timeouts, replies cut
    off and HTTP 408/409/425/429/5xx raise TransientError; any other status, or a body that is
    not JSON, raises a one-line BackendError naming `who` (e.g. "policy 'x'") and `endpoint`."""
    try:
        response = client.post(endpoint, json=body, timeout=timeout_s)
    except httpx.TimeoutException as error:
        raise TransientError(f"{_PHASES.get(type(error), 'pool')} timeout ({timeout_s:.3g} s)") from None
    except httpx.RemoteProtocolError as error:
        raise TransientError(f"reply cut off ({one_line(str(error))})") from None
    except httpx.TransportError as error:
        raise TransientError(one_line(str(error)) or type(error).__name__) from None
    except httpx.HTTPError as error:
        raise BackendError(f"{who}: {endpoint} failed: {one_line(str(error))}") from None
    if not response.is_success:
        detail = one_line(response.content.decode(errors="replace"))
        if response.status_code in _TRANSIENT_HTTP:
            raise TransientError(f"HTTP {response.status_code}: {detail}")
        raise BackendError(f"{who}: {endpoint} refused the request (HTTP {response.status_code}): {detail}")
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise BackendError(
            f"{who}: {endpoint} answered HTTP {response.status_code} with a body that is not JSON: "
            f"{one_line(response.content.decode(errors='replace'))!r}"
        ) from None


def one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


class Retrier:
    """The tries of one request: transient failures are retried with exponential backoff
    (jittered, seeded) until `retry_timeout_s`, a total deadline for the tries and waits
    together (each try's timeout is cut to what is left; 0: one try of `request_timeout_s`).
    Counts the retries, and warns once per endpoint every WARN_EVERY_S with a count of the
    retries in between. `role` and `name` ("policy", "toy_small") name the backend in errors."""

    def __init__(
        self,
        role: str,
        name: str,
        log: logging.Logger,
        request_timeout_s: float,
        retry_timeout_s: float,
        backoff_s: float,
        max_backoff_s: float,
    ) -> None:
        if request_timeout_s <= 0 or retry_timeout_s < 0 or backoff_s <= 0:
            raise ValueError(
                f"{role}.request_timeout_s and {role}.backoff_s must be positive, {role}.retry_timeout_s >= 0"
            )
        self.role, self.name, self.log = role, name, log
        self.request_timeout_s, self.retry_timeout_s = request_timeout_s, retry_timeout_s
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.retries = 0
        self._lock = threading.Lock()
        self._warned: dict[str, tuple[float, int]] = {}

    @property
    def who(self) -> str:
        return f"{self.role} '{self.name}'"

    def call(
        self, attempt: Callable[[str, float], T], endpoint: Callable[[int], str], seed: int, cancel: threading.Event
    ) -> T:
        """`attempt(endpoint(k), timeout)` for tries k = 0, 1, ... until one does not raise
        TransientError; a one-line BackendError naming the last endpoint once the deadline is past."""
        began = time.monotonic()
        deadline = began + self.retry_timeout_s
        rng = random.Random(seed)
        tries = 0
        while True:
            if cancel.is_set():
                raise Cancelled()
            where = endpoint(tries)
            left = deadline - time.monotonic()
            timeout = self.request_timeout_s if self.retry_timeout_s == 0 else min(self.request_timeout_s, left)
            try:
                return attempt(where, max(timeout, 0.05))
            except TransientError as error:
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** min(tries, 16)) * (0.5 + rng.random() / 2)
                if time.monotonic() + delay > deadline:
                    raise BackendError(
                        f"{self.who}: {where} still failing after {tries + 1} tries in "
                        f"{time.monotonic() - began:.0f} s ({self.role}.retry_timeout_s={self.retry_timeout_s:g}); "
                        f"last: {error}"
                    ) from None
                with self._lock:
                    self.retries += 1
                self._warn(where, error, deadline)
                if cancel.wait(delay):
                    raise Cancelled() from None
                tries += 1

    def _warn(self, where: str, error: TransientError, deadline: float) -> None:
        now = time.monotonic()
        with self._lock:
            last, count = self._warned.get(where, (-WARN_EVERY_S, 0))
            if now - last < WARN_EVERY_S:
                self._warned[where] = (last, count + 1)
                return
            self._warned[where] = (now, 0)
        extra = f" ({count} more retries since the last warning)" if count else ""
        self.log.warning(
            "%s %s: %s failing (%s); retrying for up to %.0f s more%s",
            self.role,
            self.name,
            where,
            error,
            deadline - now,
            extra,
        )


def run_all(work: Callable[[Any, threading.Event], Any], jobs: list[Any], workers: int) -> dict[Any, Any]:
    """`work(job, cancel)` for every job on up to `workers` daemon threads. The caller waits in
    slices of 0.2 s, so a signal (Ctrl-C) is honoured at once; on any failure, or when the
    caller is interrupted, `cancel` is set and the threads stop at their next check (daemon
    threads never keep the process alive, even in a request that hangs)."""
    if not jobs:
        return {}
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for job in jobs:
        todo.put(job)
    done: queue.SimpleQueue = queue.SimpleQueue()
    cancel = threading.Event()

    def worker() -> None:
        while not cancel.is_set():
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((job, work(job, cancel), None))
            except Cancelled:
                return
            except BaseException as error:  # noqa: BLE001 - handed to the caller
                done.put((job, None, error))

    replies: dict[Any, Any] = {}
    try:
        for _ in range(min(workers, len(jobs))):
            threading.Thread(target=worker, daemon=True).start()
        while len(replies) < len(jobs):
            try:
                job, reply, error = done.get(timeout=0.2)
            except queue.Empty:
                continue
            if error is not None:
                raise error
            replies[job] = reply
    finally:
        cancel.set()
    return replies
