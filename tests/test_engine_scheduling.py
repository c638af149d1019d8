"""The engine's scheduling, calls and requests, and search/jobs.py (packing, a job's share
of a data-set pool), with numbers worked out by hand. Written to kill surviving mutants of
search/ (`make mutation`, docs/testing.md): each pins down a behaviour the rest of the suite
left open."""

from __future__ import annotations

import re

import pytest

from infscale.search.jobs import Job, pack
from tests.engine_helpers import Recorder, recorded_engine, strategy


def test_pack_fills_calls_up_to_max_batch_sequences_in_order():
    jobs = [Job(run=None, node=None, request=i, cost=c) for i, c in enumerate([2, 3, 1, 4, 4, 1])]
    calls = [[j.request for j in batch] for batch in pack(jobs, 5)]
    # 2+3 = 5 fits exactly; 1+4 = 5; 4+1 = 5
    assert calls == [[0, 1], [2, 3], [4, 5]]
    assert [[j.request for j in b] for b in pack(jobs, 4)] == [[0], [1, 2], [3], [4], [5]]
    assert list(pack([], 3)) == []
    # a job larger than max_batch still goes out, alone
    assert [[j.request for j in b] for b in pack([Job(None, None, "big", cost=9)], 4)] == [["big"]]


# --- the engine's call accounting and scheduling ------------------------------------------


def test_calls_count_backend_calls_and_sequences():
    import time

    task, engine, policy, reward = recorded_engine(3, max_batch=4)
    started = time.perf_counter()
    outcomes = list(engine.run(task.problems(), strategy("best_of_n", task, n=5, selector="weighted")))
    elapsed = time.perf_counter() - started
    assert len(outcomes) == 3
    # policy: per problem one Expand of 5 samples = calls of 4 + 1; packed consecutively with
    # at most 4 sequences: [4], [1], [4], [1], [4], [1] (1 + 4 > 4 never packs)
    assert [n for _, n in policy.calls] == [4, 1, 4, 1, 4, 1]
    # reward: 15 trajectories of one sequence each, in calls of 4: 4, 4, 4, 3
    assert [n for _, n in reward.calls] == [4, 4, 4, 3]
    calls = engine.calls
    assert (calls["policy"], calls["policy_sequences"], calls["reward"], calls["reward_sequences"]) == (6, 15, 4, 15)
    assert calls["policy_s"] > 0 and calls["reward_s"] > 0
    # each problem's wall time includes its share of every call it was in
    assert all(o.wall_s > 0 for o in outcomes)
    # ... and a call's time is shared out, not counted once per problem in it
    assert calls["policy_s"] + calls["reward_s"] - 1e-9 <= sum(o.wall_s for o in outcomes) <= elapsed


def test_max_concurrent_bounds_the_problems_in_flight_and_keeps_the_order():
    task, engine, policy, reward = recorded_engine(5, max_concurrent=2)
    outcomes = list(engine.run(task.problems(), strategy("best_of_n", task, n=2, selector="weighted")))
    assert [o.problem.id for o in outcomes] == [p.id for p in task.problems()]
    # best-of-N takes two rounds (expand, score) per problem: problems go two at a time
    assert [sorted(set(ids)) for ids, _ in policy.calls] == [
        sorted({p.id for p in task.problems()[k : k + 2]}) for k in (0, 2, 4)
    ]
    task, engine, _, _ = recorded_engine(3, max_concurrent=3)
    list(engine.run(task.problems(), strategy("best_of_n", task, n=2, selector="weighted")))
    assert engine.calls["policy"] == 1  # all three in one call


def test_the_engines_python_defaults_are_the_configs():
    # Tests build engines without a config; their defaults must be the ones a run gets from
    # conf/config.yaml and conf/policy/*.yaml, or the fast suite tests another engine.
    import inspect

    from infscale.experiments.app.build import build_sampling, load_config
    from infscale.search.engine import Engine, Sampling

    cfg = load_config("policy=simulated")
    assert Sampling() == build_sampling(cfg.policy) == Sampling(1.0, 256, 1024)
    defaults = {k: p.default for k, p in inspect.signature(Engine).parameters.items()}
    assert (defaults["max_batch"], defaults["max_concurrent"], defaults["seed"]) == (
        cfg.engine.max_batch,
        cfg.engine.max_concurrent,
        cfg.seed,
    )
    assert defaults["scheduler"] == cfg.engine.scheduler == "lockstep"
    assert defaults["batch_wait_ms"] == cfg.engine.batch_wait_ms == 5
    assert defaults["progress"] is False  # (a run's progress bar is on: conf/config.yaml says so)
    assert defaults["budget"] is defaults["sampling"] is defaults["pool"] is None
    engine = Engine(None, None, None)
    assert engine.budget.to_dict() == {"max_samples": None, "max_tokens": None, "max_flops": None}
    assert engine.sampling == Sampling(1.0, 256, 1024) and engine.pool is None
    assert (engine.max_batch, engine.max_concurrent, engine.seed, engine.progress) == (256, 512, 0, False)
    assert engine.calls == {
        "policy": 0,
        "policy_sequences": 0,
        "policy_s": 0.0,
        "reward": 0,
        "reward_sequences": 0,
        "reward_s": 0.0,
        "policy_prompt": 0,
        "policy_cached": 0,
        "reward_prompt": 0,
        "reward_cached": 0,
    }


def test_batch_and_concurrency_must_be_positive():
    from infscale.search.engine import Engine

    for bad in (0, -3, True, 2.5, "2048", "Auto", None):
        with pytest.raises(
            ValueError, match=rf"^engine.max_batch must be a positive integer or 'auto', got {re.escape(repr(bad))}$"
        ):
            Engine(None, None, None, max_batch=bad)
    with pytest.raises(ValueError, match="^engine.max_concurrent must be >= 1, got 0$"):
        Engine(None, None, None, max_concurrent=0)
    assert Engine(None, None, None, max_batch=1, max_concurrent=1).max_batch == 1


def test_auto_batch_is_the_largest_the_backends_prefer_and_an_explicit_number_wins():
    from infscale.search.engine import Engine
    from tests.fake_backends import simulated_policy, simulated_prm

    policy, reward = simulated_policy(), simulated_prm()
    assert Engine(None, policy, reward).max_batch == 256  # neither names a preference
    policy.preferred_batch = 2048  # as vLLM's and the served backends' classes do
    assert Engine(None, policy, reward).max_batch == 2048
    assert Engine(None, policy, None).max_batch == 2048
    reward.preferred_batch = 4096
    assert Engine(None, policy, reward).max_batch == 4096
    assert Engine(None, policy, reward, max_batch=7).max_batch == 7
    reward.preferred_batch = 0
    with pytest.raises(ValueError, match=r"^SimulatedPRM.preferred_batch must be a positive integer, got 0$"):
        Engine(None, policy, reward)


def test_auto_batch_changes_the_calls_not_the_answers_or_the_bill():
    from infscale.budgets.budget import Budget
    from infscale.search.engine import Engine, Sampling
    from tests.fake_backends import simulated_policy, simulated_prm, simulated_task

    task = simulated_task(n=40)
    runs = {}
    for preferred, max_batch in ((None, "auto"), (2048, "auto"), (2048, 256)):
        policy, reward = simulated_policy(), simulated_prm()
        policy.preferred_batch = preferred
        engine = Engine(task, policy, reward, Budget.unlimited(), Sampling(), max_batch=max_batch)
        outcomes = list(engine.run(task.problems(), strategy("rebase", task, n=16)))
        records = [(o.decision.answer, o.ledger.flops_total, o.ledger.tokens_record()) for o in outcomes]
        runs[preferred, max_batch] = (engine.max_batch, engine.calls["policy"], records)
    (small, small_calls, base), (large, large_calls, auto), (_, explicit_calls, explicit) = runs.values()
    assert (small, large) == (256, 2048)
    assert base == auto == explicit and len(base) == 40
    assert large_calls < small_calls == explicit_calls  # 40 x 16 live leaves: 3 calls a round, then 1


@pytest.mark.parametrize("cap", ["samples", "tokens", "flops"])
@pytest.mark.parametrize("k, rest", [(1, 0.0), (3, 0.99), (8, 0.0), (10, 0.5)])
def test_best_of_n_under_a_cap_takes_exactly_the_samples_that_fit(cap, k, rest):
    # The fixed-case form of tests/test_budget_tightness.py's hypothesis test (which the
    # mutation runs leave out for its time): room for k samples and a fraction more gives
    # min(k, 8) samples of exactly 128 tokens, no fewer and no more.
    from tests.test_budget_tightness import check_best_of_n_takes_exactly_the_samples_that_fit

    check_best_of_n_takes_exactly_the_samples_that_fit(k, rest, cap)


def test_the_progress_bar_counts_problems_only_when_asked(capsys):
    from infscale.search.engine import Engine
    from tests.fake_backends import simulated_policy, simulated_task

    task = simulated_task(n=3, seed=3)
    for progress in (True, False):
        engine = Engine(task, simulated_policy(), None, progress=progress)
        list(engine.run(task.problems(), strategy("best_of_n", task, n=2, selector="majority")))
        err = capsys.readouterr().err
        if progress:
            assert "BestOfN: 100%" in err and "3/3" in err
            assert re.search(r"[0-9.]+(problem/s|s/problem)\]", err), err
        else:
            assert err == ""


# --- the requests the engine sends ---------------------------------------------------------


def test_requests_carry_the_limits_seeds_and_temperatures_worked_out_by_hand():
    # Steps of exactly 64 tokens (temperature 0), at most 100 tokens a solution: the first
    # step asks for min(100, 64) = 64 tokens, the second for min(100 - 64, 64) = 36, and
    # that one ends the solution by length.
    from infscale.search.engine import Engine, Sampling
    from infscale.tasks.base import derive_seed
    from tests.fake_backends import full_length_policy, simulated_prm, simulated_task

    task = simulated_task(n=1, seed=3, level=5)  # 6-step chains: no solution ends early
    policy = Recorder(full_length_policy(64), lambda r: r)
    sampling = Sampling(temperature=0.0, max_step_tokens=64, max_tokens=100)
    engine = Engine(task, policy, simulated_prm(), None, sampling, max_batch=3, seed=11)
    (outcome,) = engine.run(task.problems(), strategy("beam", task, n=4, beam_width=2, max_depth=5))
    requests = [r for call, _ in policy.calls for r in call]
    problem, root = task.problems()[0], outcome.tree.root
    first = [r for r in requests if r.prompt == problem.prompt]
    # n = 4 at the root in calls of at most max_batch = 3: seeds base, base + 3
    base = derive_seed(11, problem.id, root.id, 0)
    assert [(r.n, r.seed, r.max_tokens, r.temperature, r.until, r.stop) for r in first] == [
        (3, base, 64, 0.0, "step", "\n"),
        (1, base + 3, 64, 0.0, "step", "\n"),
    ]
    assert root.expansions == 1
    later = [r for r in requests if r.prompt != problem.prompt]
    assert len(later) == 2 and {r.max_tokens for r in later} == {36}  # two survivors, 2 copies each
    expanded = [x for x in outcome.tree.nodes if x.depth == 1 and x.expansions == 1]
    assert sorted(r.seed for r in later) == sorted(derive_seed(11, problem.id, x.id, 0) for x in expanded)
    assert [r.n for r in later] == [2, 2]
    ended = [node for node in outcome.tree.nodes if node.depth == 2]
    assert len(ended) == 4 and all(n.finish == "length" and n.terminal and n.generated == 100 for n in ended)
    assert all(n.answer is None for n in ended)


def test_an_operation_temperature_overrides_the_sampling_one():
    # beam's look-ahead steps are greedy (temperature 0); its sampled steps use the config's
    from infscale.search.engine import Engine, Sampling
    from tests.fake_backends import simulated_policy, simulated_prm, simulated_task

    task = simulated_task(n=1, seed=3, level=5)
    policy = Recorder(simulated_policy(), lambda r: r)
    engine = Engine(task, policy, simulated_prm(), None, Sampling(0.7, 256, 1024))
    list(engine.run(task.problems(), strategy("beam", task, n=4, beam_width=2, lookahead=1, max_depth=3)))
    temperatures = [(r.temperature, r.n) for call, _ in policy.calls for r in call]
    assert {t for t, _ in temperatures} == {0.7, 0.0}
    assert all(n == 1 for t, n in temperatures if t == 0.0)


def test_a_step_at_the_depth_limit_ends_the_solution_by_depth():
    from infscale.search.engine import Engine, Sampling
    from tests.fake_backends import full_length_policy, simulated_prm, simulated_task

    task = simulated_task(n=1, seed=3, level=5)
    sampling = Sampling(temperature=0.0, max_step_tokens=8, max_tokens=1024)
    engine = Engine(task, full_length_policy(8), simulated_prm(), None, sampling)
    (outcome,) = engine.run(task.problems(), strategy("rebase", task, n=2, max_depth=2))
    depth = {node.depth: node for node in outcome.tree.nodes}
    assert depth[1].finish == "step" and not depth[1].terminal
    assert max(depth) == 2 and all(n.finish == "depth" and n.terminal for n in outcome.tree.nodes if n.depth == 2)


# --- a job's share of a data-set pool (search/jobs.py) ----------------------------------


def test_split_calls_splits_by_max_batch_and_refuses_what_the_pool_cannot_pay_at_all():
    from infscale.budgets.pool import Pool
    from infscale.search.jobs import WorstCase, split_calls

    worst = WorstCase(100.0, 50.0, 10)
    assert split_calls(None, 3, 7, worst) == [(0, 3), (3, 3), (6, 1)]
    assert split_calls(None, 3, 0, worst) == []
    assert split_calls(Pool(150.0, None), 3, 7, worst) == [(0, 3), (3, 3), (6, 1)]  # one sample fits
    assert split_calls(Pool(149.0, None), 3, 7, worst) == []  # not one: refused
    assert split_calls(Pool(None, 9), 3, 7, worst) == []


def _drawn(pool, jobs, max_batch, actual=lambda job: (job.worst.fixed + 10.0 * job.cost, 3 * job.cost), split=True):
    """The calls `issue` hands out, as (samples, seed) per job, each settled at `actual`
    before the next is asked for (a job's later parts pay no prompt: one prefill per
    expansion); checks that only the call in flight is reserved."""
    from infscale.search.jobs import issue

    calls = []
    for batch in issue(pool, jobs, max_batch, split):
        calls.append([(job.request.n, job.request.seed) for job in batch])
        assert pool.reserved_flops == pytest.approx(sum(job.reservation.flops for job in batch))
        for job in batch:
            pool.settle(job.reservation, *actual(job))
    return calls


def test_issue_reserves_only_the_call_in_flight_and_draws_a_job_the_pool_cannot_hold_whole_in_parts():
    from infscale.budgets.pool import Pool
    from infscale.search.backends import GenerationRequest
    from infscale.search.jobs import Job, WorstCase, issue

    def jobs(*counts):
        worst = WorstCase(100.0, 50.0, 10)  # a call: 100 once + 50 a sample, worst case
        requests = [GenerationRequest("p", n, "end", "\n", 10, 1.0, 1000 * k) for k, n in enumerate(counts)]
        return [Job(None, None, r, cost=r.n, worst=worst) for r in requests]

    # no pool: `pack`
    assert [[j.cost for j in b] for b in issue(None, jobs(3, 3, 1), 6)] == [[3, 3], [1]]
    # 600: 250 + 250 reserved together; the third (150) does not fit beside them, so it waits
    # for them to settle (130 each spent), then fits: nothing is ever cut
    pool = Pool(600.0, None)
    assert _drawn(pool, jobs(3, 3, 1), 6) == [[(3, 0), (3, 1000)], [(1, 2000)]]
    assert (pool.spent_flops, pool.reserved_flops) == (370.0, 0.0)
    # 300 and one job of 6: 4 fit (300), settle at 140; the other 2 are the same expansion,
    # whose prompt the first part paid: 2 x 50 fit in the 160 left, seed + 4, settle at 20
    pool = Pool(300.0, None)
    assert _drawn(pool, jobs(6), 6) == [[(4, 0)], [(2, 4)]]
    assert (pool.spent_flops, pool.reserved_flops) == (160.0, 0.0)
    # 250: 3 fit (250), settle at 130; 2 of the rest fit in 120 (settle at 20), the last one
    # in the 100 left (settle at 10); the next job's 150 does not fit in the 90 left: refused
    pool = Pool(250.0, None)
    assert _drawn(pool, jobs(6, 1), 6) == [[(3, 0)], [(2, 3)], [(1, 5)]]
    assert (pool.spent_flops, pool.reserved_flops) == (160.0, 0.0)
    # not split (a per-problem FLOP cap counted one prompt per job): the first part is all,
    # and the next job is tried in the room left (1 fits in the 160 left after 140)
    pool = Pool(300.0, None)
    assert _drawn(pool, jobs(6, 1), 6, split=False) == [[(4, 0)], [(1, 1000)]]
    # a token pool: 10 tokens a sample at worst, 3 spent: 25 left holds 2, then 19, 16 and 13
    # hold one each; all 5 are drawn, in 4 calls
    pool = Pool(None, 25)
    assert _drawn(pool, jobs(5), 6) == [[(2, 0)], [(1, 2)], [(1, 3)], [(1, 4)]]
    assert pool.spent_tokens == 15 and pool.reserved_tokens == 0


def test_issue_sends_a_reward_job_whole_or_not_at_all():
    from infscale.budgets.pool import Pool
    from infscale.search.jobs import Job, WorstCase, issue

    scored = [Job(None, None, f"trajectory {k}", worst=WorstCase(flops)) for k, flops in enumerate((60.0, 50.0, 30.0))]
    pool = Pool(100.0, None)
    batches = []
    for batch in issue(pool, scored, 8):
        batches.append([job.request for job in batch])
        for job in batch:
            pool.settle(job.reservation, job.reservation.flops, 0)
    # 60 then 50 do not fit together: 60 goes, is spent; 50 no longer fits at all; 30 does
    assert batches == [["trajectory 0"], ["trajectory 2"]]
    assert pool.spent_flops == 90.0


def test_settle_reservation_charges_the_pool_what_the_ledger_was_charged():
    from infscale.budgets.ledger import Ledger
    from infscale.budgets.pool import Pool
    from infscale.search.jobs import Job, settle_reservation
    from tests.fake_backends import simulated_policy

    spec = simulated_policy().spec
    pool = Pool(total_flops=1e15, total_tokens=1000)
    job = Job(run=None, node=None, request=None, reservation=pool.reserve(1e12, 100))
    ledger = Ledger(spec, None)
    ledger.charge_prompt(20, 0)
    before = (ledger.flops_total, ledger.generated)
    ledger.charge_sample(20, 30)
    settle_reservation(pool, job, before, ledger)
    assert (pool.reserved_flops, pool.reserved_tokens) == (0.0, 0)
    assert pool.spent_tokens == 30 and pool.spent_flops == ledger.flops_total - before[0] == spec.flops_span(20, 30)
    settle_reservation(pool, Job(None, None, None), before, ledger)  # nothing reserved: nothing to settle
    assert pool.spent_tokens == 30
    # counts the pool caps must be known
    unknown = Ledger(None, None)
    for total_flops, total_tokens, message in (
        (1e15, None, "budget.total_flops needs FLOP counts, and this backend reports none"),
        (None, 1000, "budget.total_tokens needs token counts, and this policy reports none"),
    ):
        pool = Pool(total_flops=total_flops, total_tokens=total_tokens)
        job = Job(None, None, None, reservation=pool.reserve(0.0 if total_flops else None, 10))
        unknown.generated = None
        with pytest.raises(ValueError, match=f"^{message}$"):
            settle_reservation(pool, job, (None, None), unknown)


def test_outcomes_come_in_the_order_given_unless_asked_as_they_finish():
    from infscale.search.engine import Engine, Sampling
    from tests.fake_backends import simulated_policy, simulated_prm, simulated_task

    task = simulated_task(n=6, seed=0)  # mixed levels: 2 to 6 steps, so searches end at different rounds
    problems = sorted(task.problems(), key=lambda p: -int(p.prompt.split("level ")[1].split(",")[0]))
    assert problems[0].prompt != problems[-1].prompt

    def order(**kwargs):
        engine = Engine(task, simulated_policy(), simulated_prm(), None, Sampling(0.0, 256, 1024))
        return [o.problem.id for o in engine.run(problems, strategy("rebase", task, n=2), **kwargs)]

    given = [p.id for p in problems]  # hardest first
    assert order() == given
    as_finished = order(ordered=False)
    assert sorted(as_finished) == sorted(given) and as_finished != given
    assert as_finished[0] == given[-1] or as_finished[0] in given[3:]  # an easy one ends first


from tests.cases_engine_faults import *  # noqa: E402,F401,F403  (collected here: the mutation selection lists this file)
