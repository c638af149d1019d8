"""Tests written to kill surviving mutants of search/ (`make mutation`, docs/testing.md):
each pins down a behaviour the rest of the suite left open, with numbers worked out by hand."""

from __future__ import annotations

import re

import pytest

from infscale.search.dispatch import Job, pack
from tests.engine_helpers import strategy


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


class _Recorder:
    """A backend wrapper that records, per call, the problems (by prompt) and sequences in it."""

    def __init__(self, inner, prompt_of):
        self.inner, self.prompt_of, self.calls = inner, prompt_of, []
        self.name, self.spec = inner.name, inner.spec
        for attr in ("incremental", "outcome"):
            if hasattr(inner, attr):
                setattr(self, attr, getattr(inner, attr))

    def count_tokens(self, x):
        return self.inner.count_tokens(x)

    def _record(self, requests):
        self.calls.append(([self.prompt_of(r) for r in requests], sum(getattr(r, "n", 1) for r in requests)))

    def generate(self, requests):
        self._record(requests)
        return self.inner.generate(requests)

    def score(self, requests):
        self._record(requests)
        return self.inner.score(requests)


def _recorded_engine(problems: int, **engine_kwargs):
    from infscale.budgets.budget import Budget
    from infscale.search.engine import Engine, Sampling
    from tests.fake_backends import simulated_policy, simulated_prm, simulated_task

    task = simulated_task(n=problems)
    heads = {p.prompt: p.id for p in task.problems()}

    def problem_of(prompt: str) -> str:
        return next(i for head, i in heads.items() if prompt.startswith(head))

    policy = _Recorder(simulated_policy(), lambda r: problem_of(r.prompt))
    reward = _Recorder(simulated_prm(), lambda r: problem_of(r.prompt))
    engine = Engine(task, policy, reward, Budget.unlimited(), Sampling(), **engine_kwargs)
    return task, engine, policy, reward


def test_calls_count_backend_calls_and_sequences():
    import time

    task, engine, policy, reward = _recorded_engine(3, max_batch=4)
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
    task, engine, policy, reward = _recorded_engine(5, max_concurrent=2)
    outcomes = list(engine.run(task.problems(), strategy("best_of_n", task, n=2, selector="weighted")))
    assert [o.problem.id for o in outcomes] == [p.id for p in task.problems()]
    # best-of-N takes two rounds (expand, score) per problem: problems go two at a time
    assert [sorted(set(ids)) for ids, _ in policy.calls] == [
        sorted({p.id for p in task.problems()[k : k + 2]}) for k in (0, 2, 4)
    ]
    task, engine, _, _ = _recorded_engine(3, max_concurrent=3)
    list(engine.run(task.problems(), strategy("best_of_n", task, n=2, selector="weighted")))
    assert engine.calls["policy"] == 1  # all three in one call


def test_the_engines_python_defaults_are_the_configs():
    # Tests build engines without a config; their defaults must be the ones a run gets from
    # conf/config.yaml and conf/policy/*.yaml, or the fast suite tests another engine.
    import inspect

    from infscale.experiments.build import build_sampling, load_config
    from infscale.search.engine import Engine, Sampling

    cfg = load_config("policy=simulated")
    assert Sampling() == build_sampling(cfg.policy) == Sampling(1.0, 256, 1024)
    defaults = {k: p.default for k, p in inspect.signature(Engine).parameters.items()}
    assert (defaults["max_batch"], defaults["max_concurrent"], defaults["seed"]) == (
        cfg.engine.max_batch,
        cfg.engine.max_concurrent,
        cfg.seed,
    )
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
    }


def test_batch_and_concurrency_must_be_positive():
    import pytest

    from infscale.search.engine import Engine

    for kwargs in ({"max_batch": 0}, {"max_concurrent": 0}, {"max_batch": 0, "max_concurrent": 0}):
        args = {"max_batch": 1, "max_concurrent": 1, **kwargs}
        message = f"engine.max_batch and engine.max_concurrent must be >= 1, got {args['max_batch']}, {args['max_concurrent']}"
        with pytest.raises(ValueError, match=f"^{message}$"):
            Engine(None, None, None, **args)
    assert Engine(None, None, None, max_batch=1, max_concurrent=1).max_batch == 1


@pytest.mark.parametrize("cap", ["samples", "tokens", "flops"])
@pytest.mark.parametrize("k, rest", [(1, 0.0), (3, 0.99), (8, 0.0), (10, 0.5)])
def test_best_of_n_under_a_cap_takes_exactly_the_samples_that_fit(cap, k, rest):
    # The fixed-case form of tests/test_budget_tightness.py's hypothesis test (which the
    # mutation runs leave out for its time): room for k samples and a fraction more gives
    # min(k, 8) samples of exactly 128 tokens, no fewer and no more.
    from tests.test_budget_tightness import PROMPT, TASK, WHOLE, caps, engine, spec

    prefill, each = spec().flops_span(0, PROMPT), spec().flops_span(PROMPT, WHOLE)
    budget = {
        "samples": caps(max_samples=k),
        "tokens": caps(max_tokens=k * WHOLE + int(rest * WHOLE)),
        "flops": caps(max_flops=prefill + (k + rest) * each),
    }[cap]
    for outcome in engine(budget).run(TASK.problems(), strategy("best_of_n", TASK, n=8, selector="majority")):
        assert (outcome.ledger.samples, outcome.ledger.generated) == (min(k, 8), min(k, 8) * WHOLE)


# --- what the engine accepts from a reward model --------------------------------------------


class _FixedPRM:
    """Scores every step with `value`; `outcome=True` scores a trajectory once."""

    spec = None

    def __init__(self, value, outcome=False, extra=0):
        self.value, self.outcome, self.extra, self.name = value, outcome, extra, f"fixed-{value}"
        self.requests = []

    def count_tokens(self, request):
        return 3

    def score(self, requests):
        self.requests += requests
        width = (lambda r: 1) if self.outcome else (lambda r: len(r.steps) - r.known)
        return [[self.value] * (width(r) + self.extra) for r in requests]


def _greedy_with(reward, n_problems=1):
    from infscale.search.engine import Engine
    from tests.fake_backends import simulated_policy, simulated_task

    task = simulated_task(n=n_problems, seed=3)
    engine = Engine(task, simulated_policy(), reward)
    return task, list(engine.run(task.problems(), strategy("rebase", task, n=2)))


@pytest.mark.parametrize("value", [0.0, 1.0, 0, 1, True])
def test_scores_on_the_closed_unit_interval_are_accepted_as_floats(value):
    task, outcomes = _greedy_with(_FixedPRM(value))
    scores = [s for node in outcomes[0].tree.nodes if node.step_scores for s in node.step_scores]
    assert scores and all(s == float(value) and type(s) is float for s in scores)


@pytest.mark.parametrize("value", [1.0000001, -1e-9, float("inf"), float("-inf"), float("nan"), 2.0])
def test_a_score_outside_the_unit_interval_names_the_reward_problem_and_node(value):
    reward = _FixedPRM(value)
    with pytest.raises(ValueError) as error:
        _greedy_with(reward)
    message = str(error.value)
    assert message.startswith(f"reward 'fixed-{value}' returned a score outside [0, 1] or NaN: [{value}")
    assert message.endswith(", node 1)") and "(problem " in message


def test_an_outcome_model_gives_one_score_per_trajectory():
    reward = _FixedPRM(0.25, outcome=True)
    task, outcomes = _greedy_with(reward)
    scored = [node for node in outcomes[0].tree.nodes if node.step_scores is not None]
    assert scored and all(node.step_scores == [0.25] for node in scored)
    assert any(len(r.steps) > 1 for r in reward.requests)  # deeper paths still get one score


def test_a_wrong_score_count_is_refused_with_the_counts_and_where():
    with pytest.raises(ValueError) as error:
        _greedy_with(_FixedPRM(0.5, extra=1))
    assert str(error.value).startswith("reward 'fixed-0.5' returned 2 scores for a trajectory of 1 steps, 0 of them")
    assert "scored before (problem " in str(error.value) and str(error.value).endswith(", node 1)")
    with pytest.raises(ValueError, match="^reward 'fixed-0.5' returned 2 scores for a trajectory of 1 steps"):
        _greedy_with(_FixedPRM(0.5, outcome=True, extra=1))


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
    policy = _Recorder(full_length_policy(64), lambda r: r)
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
    policy = _Recorder(simulated_policy(), lambda r: r)
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


# --- incremental scoring -------------------------------------------------------------------


class _StepPRM:
    """A prefix-stable PRM: a step's score depends on its text only (len % 7 / 10). With
    `incremental`, it scores steps[known:] and reports 5 tokens computed per new step and
    5 per known step as cached (`plain`: a bare list, no cost report)."""

    spec, outcome, name = None, False, "step-prm"

    def __init__(self, incremental: bool, plain: bool = False):
        self.incremental, self.plain, self.requests = incremental, plain, []

    def count_tokens(self, request):
        return 5 * len(request.steps)

    def score(self, requests):
        from infscale.search.backends import ScoreResult

        self.requests += requests
        out = []
        for r in requests:
            scores = [len(s) % 7 / 10 for s in r.steps[r.known :]]
            out.append(scores if self.plain else ScoreResult(scores, 5 * (len(r.steps) - r.known), 5 * r.known))
        return out


def _rebase_with(reward):
    from infscale.search.engine import Engine, Sampling
    from tests.fake_backends import simulated_policy, simulated_task

    task = simulated_task(n=1, seed=3, level=3)
    engine = Engine(task, simulated_policy(), reward, None, Sampling(1.0, 256, 1024))
    (outcome,) = engine.run(task.problems(), strategy("rebase", task, n=4))
    return task, outcome


def test_an_incremental_prm_is_asked_only_for_new_steps_and_its_cost_is_charged():
    task, whole = _rebase_with(_StepPRM(incremental=False))
    reward = _StepPRM(incremental=True)
    task, outcome = _rebase_with(reward)
    # the same tree and the same scores as scoring whole paths
    assert [n.step_scores for n in outcome.tree.nodes] == [n.step_scores for n in whole.tree.nodes]
    assert all(r.known == len(r.steps) - 1 for r in reward.requests)  # the parent was scored
    assert sum(r.known > 0 for r in reward.requests) > 0
    for node in outcome.tree.nodes:
        if node.step_scores is not None and node.parent is not None:
            steps = len(node.step_scores)
            assert (node.reward_tokens, node.reward_cached) == (5, 5 * (steps - 1))
            assert node.step_scores[:-1] == (node.parent.step_scores or [])
    scored = [n for n in outcome.tree.nodes if n.step_scores is not None and n.parent is not None]
    assert outcome.ledger.reward_tokens == 5 * len(scored)
    assert outcome.ledger.reward_cached == sum(5 * (len(n.step_scores) - 1) for n in scored)
    # not incremental: whole paths, every token computed
    assert whole.ledger.reward_cached == 0
    assert whole.ledger.reward_tokens == sum(5 * len(n.step_scores) for n in whole.tree.nodes if n.step_scores)


def test_an_incremental_prm_must_report_its_cost():
    message = "reward 'step-prm' scores incrementally but did not report its computed tokens (return a ScoreResult)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _rebase_with(_StepPRM(incremental=True, plain=True))
    task, outcome = _rebase_with(_StepPRM(incremental=False, plain=True))  # whole paths: the count is known
    assert outcome.ledger.reward_cached == 0 and outcome.ledger.reward_tokens > 0


def test_an_outcome_model_is_never_asked_incrementally():
    reward = _StepPRM(incremental=True)
    reward.outcome = True
    reward.score = lambda requests: [[0.5] for r in requests if not reward.requests.append(r)]
    task, outcome = _rebase_with(reward)
    assert reward.requests and all(r.known == 0 for r in reward.requests)


# --- a job's share of a data-set pool (search/dispatch.py) ----------------------------------


def test_reserve_chunks_splits_by_max_batch_and_stops_where_the_pool_runs_out():
    from infscale.budgets.pool import Pool, Reservation
    from infscale.search.dispatch import reserve_chunks

    # no pool: calls of at most 3, nothing reserved
    assert reserve_chunks(None, 3, 7, 10, 100.0, 50.0) == [(0, 3, None), (3, 3, None), (6, 1, None)]
    assert reserve_chunks(None, 3, 0, 10, 100.0, 50.0) == []
    # tokens: 45 left, 10 a sample: 3 + 1 (the second call cut to what fits), then none
    pool = Pool(total_flops=None, total_tokens=45)
    assert reserve_chunks(pool, 3, 7, 10, None, None) == [(0, 3, Reservation(0.0, 30)), (3, 1, Reservation(0.0, 10))]
    assert (pool.reserved_tokens, pool.left_tokens) == (40, 5)
    # FLOPs: each call costs 100 + 50 per sample; 600 left: 100 + 3*50 = 250, then 100 + 3*50
    # = 250 (100 left), then none (100 + 50 > 100)
    pool = Pool(total_flops=600.0, total_tokens=None)
    chunks = reserve_chunks(pool, 3, 7, 10, 100.0, 50.0)
    assert chunks == [(0, 3, Reservation(250.0, 30)), (3, 3, Reservation(250.0, 30))]
    assert pool.reserved_flops == 500.0 and pool.left_flops == 100.0


def test_settle_charges_the_pool_what_the_ledger_was_charged():
    from infscale.budgets.ledger import Ledger
    from infscale.budgets.pool import Pool
    from infscale.search.dispatch import Job, settle
    from tests.fake_backends import simulated_policy

    spec = simulated_policy().spec
    pool = Pool(total_flops=1e15, total_tokens=1000)
    job = Job(run=None, node=None, request=None, reservation=pool.reserve(1e12, 100))
    ledger = Ledger(spec, None)
    ledger.charge_prompt(20, 0)
    before = (ledger.flops_total, ledger.generated)
    ledger.charge_sample(20, 30)
    settle(pool, job, before, ledger)
    assert (pool.reserved_flops, pool.reserved_tokens) == (0.0, 0)
    assert pool.spent_tokens == 30 and pool.spent_flops == ledger.flops_total - before[0] == spec.flops_span(20, 30)
    settle(pool, Job(None, None, None), before, ledger)  # nothing reserved: nothing to settle
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
            settle(pool, job, (None, None), unknown)


def test_incremental_scoring_starts_from_the_nearest_scored_ancestor():
    # beam's two-step look-ahead scores only its last node: the step between is never
    # scored, so the known prefix comes from the copy two steps up
    from infscale.search.engine import Engine, Sampling
    from tests.fake_backends import simulated_policy, simulated_task

    task = simulated_task(n=1, seed=3, level=5)
    reward = _StepPRM(incremental=True)
    engine = Engine(task, simulated_policy(), reward, None, Sampling(1.0, 256, 1024))
    beam = strategy("beam", task, n=4, beam_width=2, lookahead=2, max_depth=4)
    (outcome,) = engine.run(task.problems(), beam)
    # two new steps after a grandparent scored in an earlier round (a copy and its look-ahead
    # scored in the same round know only what was scored before: gaps of 1 to 3)
    assert any(r.known > 0 and len(r.steps) - r.known == 2 for r in reward.requests)
    assert {len(r.steps) - r.known for r in reward.requests} == {1, 2, 3}
    for node in outcome.tree.nodes:
        if node.step_scores and node.depth >= 2 and node.parent.step_scores is None:
            grand = node.parent.parent.step_scores or []
            assert node.step_scores[: len(grand)] == grand


def test_known_scores_are_reused_only_where_the_ancestor_path_is_a_prefix():
    # Engine._known_scores on a hand-built path: root -> a (scored [0.1, 0.2] over 2 steps)
    # -> b (unscored) -> c.
    from infscale.search.engine import Engine
    from infscale.search.node import Tree
    from tests.fake_backends import simulated_task

    task = simulated_task(n=1, seed=3)
    engine = Engine(task, None, _StepPRM(incremental=True))
    tree = Tree(task.problems()[0])
    a = tree.add_child(tree.root, text="s1\ns2\n", tokens=4, context=0, finish="step")
    a.step_scores = [0.1, 0.2]
    b = tree.add_child(a, text="s3\n", tokens=2, context=0, finish="step")
    c = tree.add_child(b, text="s4\n", tokens=2, context=0, finish="step")
    steps = ("s1\n", "s2\n", "s3\n", "s4\n")
    assert engine._known_scores(c, steps) == (2, [0.1, 0.2])
    assert engine._known_scores(c, steps[:2]) == (2, [0.1, 0.2])  # exactly the ancestor's steps
    assert engine._known_scores(c, steps[:1]) == (0, [])  # fewer steps than the ancestor scored
    assert engine._known_scores(c, ("s1\n", "sX\n", "s3\n", "s4\n")) == (0, [])  # not a prefix
    a.step_scores = []
    assert engine._known_scores(c, steps) == (0, [])  # an ancestor scored nothing
    engine.reward.incremental = False
    a.step_scores = [0.1, 0.2]
    assert engine._known_scores(c, steps) == (0, [])


class _NoFlagsPRM:
    """A per-step PRM that declares neither `outcome` nor `incremental` (the engine reads both
    with a default: absent means a PRM scoring whole paths) and cannot count its tokens."""

    spec, name = None, "no-flags"

    def count_tokens(self, request):
        return None

    def score(self, requests):
        return [[0.5] * len(r.steps) for r in requests]


def test_a_reward_model_without_flags_scores_every_step_and_unknown_costs_stay_unknown():
    task, outcome = _rebase_with(_NoFlagsPRM())
    scored = [n for n in outcome.tree.nodes if n.step_scores is not None and n.parent is not None]
    assert scored and all(n.step_scores == [0.5] * len(task.split_steps(n.solution)) for n in scored)
    assert any(len(n.step_scores) > 1 for n in scored)
    assert all(n.reward_tokens is None and n.reward_cached is None for n in scored)
    assert outcome.ledger.reward_tokens is None and outcome.ledger.reward_cached is None


def test_an_incremental_prm_without_an_outcome_flag_is_asked_incrementally():
    class Incremental:  # `_StepPRM` without the `outcome` attribute
        spec, name, incremental = None, "no-outcome", True
        count_tokens = _StepPRM.count_tokens
        score = _StepPRM.score

        def __init__(self):
            self.plain, self.requests = False, []

    reward = Incremental()
    _rebase_with(reward)
    assert any(r.known > 0 for r in reward.requests)


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
