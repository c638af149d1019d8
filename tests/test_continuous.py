"""The continuous scheduler (search/continuous.py) and its dispatchers (search/dispatch.py):
the records lockstep gives, policy and reward calls in flight at once, requests batched as
they arrive with a bounded wait and grouped by problem, errors and stops. The parity worlds
run under both schedulers in tests/test_parity_*.py, the golden digests in
tests/test_engine_golden.py."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from infscale.experiments.app.run import run
from infscale.experiments.bench.schedulers import Latency
from infscale.search.backends import GenerationRequest, GenerationResult, Sample, ScoreRequest, ScoreResult
from infscale.search.dispatch import Dispatcher
from infscale.search.engine import Engine
from infscale.search.jobs import Job
from infscale.search.reuse import count_reuse
from tests.conftest import make_config, read_results
from tests.engine_helpers import simulated_engine, strategy, strategy_names
from tests.test_determinism import strip_time


@pytest.fixture(scope="module")
def world():
    """Builds engines on one simulated task, policy and PRM (stateless: shared safely)."""
    base = simulated_engine()

    def engine(**kwargs) -> Engine:
        return Engine(base.task, base.policy, base.reward, **kwargs)

    return engine


def dispatcher_threads(within_s: float = 5.0) -> list[threading.Thread]:
    """The dispatcher threads still alive after `within_s` (a call running when a run stopped
    ends on its own)."""
    deadline = time.monotonic() + within_s
    while True:
        alive = [t for t in threading.enumerate() if t.name.startswith("infscale-")]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.01)


@pytest.mark.parametrize("name", strategy_names())
def test_continuous_records_equal_locksteps_for_every_strategy(tmp_path, name):
    # small calls and few problems at once, so that operations of different problems and
    # depths interleave and a problem's jobs are split over calls
    base = [f"strategy={name}", "strategy.n=8", "n_problems=12", "seed=7", "engine.max_batch=5"]
    run(make_config(*base, "engine.max_concurrent=4"), tmp_path / "lockstep")
    for wait in (0, 5):
        folder = tmp_path / f"continuous{wait}"
        run(
            make_config(
                *base, "engine.max_concurrent=4", "engine.scheduler=continuous", f"engine.batch_wait_ms={wait}"
            ),
            folder,
        )
        assert strip_time(read_results(folder)) == strip_time(read_results(tmp_path / "lockstep"))
    assert len(read_results(tmp_path / "lockstep")) == 12
    assert not dispatcher_threads()


def intervals(backend, log):
    """A backend whose calls record (kind, start, end) in `log`."""

    class Timed:
        def __getattr__(self, key):
            return getattr(backend, key)

        def timed(self, kind, method, requests):
            started = time.perf_counter()
            try:
                return method(requests)
            finally:
                log.append((kind, started, time.perf_counter()))

        def generate(self, requests):
            return self.timed("policy", backend.generate, requests)

        def score(self, requests):
            return self.timed("reward", backend.score, requests)

    return Timed()


def overlaps(log) -> int:
    policy = [(a, b) for kind, a, b in log if kind == "policy"]
    reward = [(a, b) for kind, a, b in log if kind == "reward"]
    return sum(1 for a, b in policy for c, d in reward if a < d and c < b)


@pytest.mark.parametrize("scheduler, overlapping", [("lockstep", False), ("continuous", True)])
def test_policy_generates_while_the_reward_model_scores(scheduler, overlapping, world):
    # 20 ms a call (a sleep, which releases the GIL as a GPU or server call does)
    engine = world(scheduler=scheduler, max_concurrent=6, max_batch=24)
    log = []
    engine.policy = intervals(Latency(engine.policy, 0.02, 0.0), log)
    engine.reward = intervals(Latency(engine.reward, 0.02, 0.0), log)
    outcomes = list(engine.run(engine.task.problems()[:12], strategy("rebase", engine.task, n=8)))
    assert len(outcomes) == 12
    assert (overlaps(log) > 0) is overlapping
    if overlapping:  # most reward calls run beside a policy call
        assert overlaps(log) >= engine.calls["reward"] // 2


def test_the_engine_counts_the_prompt_tokens_a_backend_reports_cached():
    calls = {"policy_prompt": 0, "policy_cached": 0, "reward_prompt": 0, "reward_cached": 0}
    sample = [Sample("x", 1, "step")]
    count_reuse(calls, "policy", [GenerationResult(sample, 30, 70), GenerationResult(sample, 5, 0)])
    count_reuse(calls, "policy", [GenerationResult(sample, None, None)])  # replayed: unknown
    count_reuse(calls, "reward", [ScoreResult([0.5], 12, 88), [0.5, 0.25]])  # a plain list reports nothing
    assert calls == {"policy_prompt": 105, "policy_cached": 70, "reward_prompt": 100, "reward_cached": 88}


# --- the dispatcher ---------------------------------------------------------------------------


def job(problem: str, text: str, cost: int = 1) -> Job:
    return Job(
        run=problem, node=None, request=GenerationRequest(problem + text, cost, "step", "\n", 8, 1.0, 0), cost=cost
    )


class Backend:
    """Answers each request with its own prompt, records the prompts of each call."""

    def __init__(self, gate: threading.Event | None = None):
        self.calls, self.gate = [], gate

    def __call__(self, backend, batch):
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append([j.request.prompt for j in batch])
        return [j.request.prompt for j in batch], 0.0


def collect(done: queue.SimpleQueue, count: int):
    return [done.get(timeout=5) for _ in range(count)]


def test_a_free_backend_waits_for_more_requests_at_most_the_bounded_wait():
    done, backend = queue.SimpleQueue(), Backend()
    dispatcher = Dispatcher("policy", backend, 64, 0.3, done)
    try:
        dispatcher.put([job("A", "1")])
        time.sleep(0.05)
        dispatcher.put([job("B", "1")])
        started = time.perf_counter()
        (item,) = collect(done, 1)
        assert 0.1 < time.perf_counter() - started  # it waited out the 0.3 s from A's arrival
        assert backend.calls == [["A1", "B1"]] and item.results == ["A1", "B1"]
        dispatcher.put([job("C", "1")])
        dispatcher.flush()  # nothing more can come: at once
        started = time.perf_counter()
        collect(done, 1)
        assert time.perf_counter() - started < 0.25 and backend.calls[-1] == ["C1"]
    finally:
        dispatcher.close()
    assert not dispatcher_threads()


def test_a_problems_requests_go_out_together_ordered_by_text_and_come_back_in_queued_order():
    done, gate = queue.SimpleQueue(), threading.Event()
    backend = Backend(gate)
    dispatcher = Dispatcher("policy", backend, 6, 0.0, done)
    try:
        dispatcher.put([job("A", "0")])  # goes alone, and holds the backend until the gate opens
        time.sleep(0.2)
        dispatcher.put([job("B", "z", 2), job("B", "a", 2)])
        dispatcher.put([job("C", "b", 2), job("C", "a", 2)])  # does not fit beside B's 4: next call
        dispatcher.put([job("D", "x", 9), job("D", "y", 1)])  # over max_batch: split, 9 then 1
        gate.set()
        items = collect(done, 5)
    finally:
        dispatcher.close()
    assert backend.calls == [["A0"], ["Ba", "Bz"], ["Ca", "Cb"], ["Dx"], ["Dy"]]
    assert [item.results for item in items] == [["A0"], ["Bz", "Ba"], ["Cb", "Ca"], ["Dx"], ["Dy"]]
    assert [[j.request.prompt for j in item.batch] for item in items][1] == ["Bz", "Ba"]


def test_groups_from_several_problems_share_a_call_in_arrival_order():
    done, gate = queue.SimpleQueue(), threading.Event()
    backend = Backend(gate)
    dispatcher = Dispatcher("reward", backend, 10, 0.0, done)
    try:
        dispatcher.put([job("A", "0")])
        time.sleep(0.2)
        for problem in "ZYX":
            dispatcher.put([job(problem, "b"), job(problem, "a")])
        gate.set()
        collect(done, 2)
    finally:
        dispatcher.close()
    assert backend.calls == [["A0"], ["Za", "Zb", "Ya", "Yb", "Xa", "Xb"]]


# --- errors, stops, settings ------------------------------------------------------------------


class Failing:
    def __init__(self, inner, after: int):
        self.inner, self.after, self.name, self.spec = inner, after, inner.name, inner.spec

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def generate(self, requests):
        self.after -= 1
        if self.after < 0:
            raise RuntimeError("policy 'simulated' failed: the server went away")
        return self.inner.generate(requests)


def test_a_backend_error_in_its_thread_is_raised_by_the_run_and_the_threads_end(world):
    engine = world(scheduler="continuous", max_concurrent=4, max_batch=8)
    engine.policy = Failing(engine.policy, after=3)
    with pytest.raises(RuntimeError, match="^policy 'simulated' failed: the server went away$"):
        list(engine.run(engine.task.problems()[:8], strategy("rebase", engine.task, n=4)))
    assert not dispatcher_threads()


def test_stop_ends_the_run_without_issuing_more_and_the_threads_end(world):
    from tests.engine_helpers import Recorder

    engine = world(scheduler="continuous", max_concurrent=2, max_batch=4)
    engine.policy = Recorder(engine.policy, lambda r: r.prompt)
    outcomes, made = [], []
    stream = engine.run(
        engine.task.problems()[:10], strategy("rebase", engine.task, n=4), stop=lambda: len(outcomes) >= 2
    )
    for outcome in stream:
        outcomes.append(outcome)
        made.append(len(engine.policy.calls))
    assert len(outcomes) == 2
    # after the stop at most the call already running when it came is made; the queued are dropped
    assert len(engine.policy.calls) <= made[-1] + 1
    assert len(engine.policy.calls) < 20  # a run of all 10 problems makes dozens
    assert not dispatcher_threads()
    # a consumer that stops reading closes the run, and its threads
    engine = world(scheduler="continuous")
    stream = engine.run(engine.task.problems()[:10], strategy("rebase", engine.task, n=4))
    next(stream)
    stream.close()
    assert not dispatcher_threads()


def test_with_a_data_set_pool_continuous_steps_in_rounds(world):
    # the pool's reservations follow the order operations are issued: continuous keeps
    # lockstep's order there (the golden `pool` digest holds under both)
    from infscale.budgets.pool import Pool
    from tests.engine_helpers import Recorder

    free = world()
    unlimited = list(free.run(free.task.problems()[:10], strategy("rebase", free.task, n=8)))
    total = sum(o.ledger.flops_total for o in unlimited) / 2  # the pool binds: half of what they spend
    calls, spent = {}, {}
    for scheduler in ("lockstep", "continuous"):
        engine = world(scheduler=scheduler, pool=Pool(total_flops=total, total_tokens=None), max_concurrent=5)
        engine.policy = Recorder(engine.policy, lambda r: r.prompt)
        outcomes = list(engine.run(engine.task.problems()[:10], strategy("rebase", engine.task, n=8)))
        calls[scheduler], spent[scheduler] = engine.policy.calls, [o.ledger.flops_total for o in outcomes]
    assert calls["lockstep"] == calls["continuous"] and spent["lockstep"] == spent["continuous"]
    assert sum(spent["lockstep"]) <= total < sum(o.ledger.flops_total for o in unlimited)
    assert not dispatcher_threads()


@pytest.mark.parametrize("value", [-1, "5", True, float("nan")])
def test_batch_wait_must_be_a_non_negative_number(value):
    with pytest.raises(ValueError, match=f"^engine.batch_wait_ms must be a non-negative number, got {value!r}$"):
        Engine(None, None, None, batch_wait_ms=value)
    assert Engine(None, None, None, batch_wait_ms=0).batch_wait_ms == 0.0


def test_score_requests_are_ordered_by_their_steps():
    from infscale.search.dispatch import text_of

    a, b = ScoreRequest("P", ("s1\n", "s2\n")), ScoreRequest("P", ("s1\n",))
    assert sorted([a, b], key=text_of) == [b, a]


def test_a_run_closed_while_a_call_is_running_returns_at_once(world):
    # a signal's Interrupted, or a consumer that stops reading, must not wait for a long call
    gate, made = threading.Event(), []
    engine = world(scheduler="continuous", max_batch=4, batch_wait_ms=0)
    inner = engine.policy

    class Held:
        name, spec = inner.name, inner.spec

        def count_tokens(self, text):
            return inner.count_tokens(text)

        def generate(self, requests):
            made.append(len(requests))
            if len(made) > 1:
                gate.wait(30)  # every call after the first hangs until the test lets it go
            return inner.generate(requests)

    engine.policy = Held()
    stream = engine.run(engine.task.problems()[:4], strategy("best_of_n", engine.task, n=4))
    first = next(stream)  # problem 0: its 4 samples filled the first call
    deadline = time.monotonic() + 5
    while len(made) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.problem.id == engine.task.problems()[0].id and len(made) == 2  # the second call hangs
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 1.0
    gate.set()
    assert not dispatcher_threads()
