"""Data-set pools and allocators (issue 17): the pool is never overdrawn, whatever the
allocator, pool or kill point; `uniform` at a pool of exactly n solutions per problem is the
fixed best_of_n run at n; bad input gets one-line errors."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from infscale.budgets.ledger import Ledger
from infscale.budgets.pool import Pool
from infscale.experiments.app import allocate
from infscale.experiments.app.build import build, load
from infscale.experiments.app.run import run
from infscale.policies.simulated import SimulatedPolicy
from infscale.search.allocators.cost import worst_case
from infscale.search.allocators.state import ProblemState
from tests.allocator_helpers import PlanRunner as _PlanRunner
from tests.allocator_helpers import probe_allocator as _probe_allocator
from tests.allocator_helpers import probed as _probed
from tests.allocator_helpers import write_sweep
from tests.conftest import make_config, read_results
from tests.engine_helpers import simulated_engine, strategy

WORLD = ("strategy=best_of_n", "task.n=40")
POOLED_STRATEGIES = ["best_of_n", "beam", "dvts", "rebase", "mcts", "adaptive"]


class Killed(Exception):
    pass


def _without_wall(records):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]


def _watch_pool(monkeypatch):
    """Check spent + reserved <= total after every reservation and settlement."""
    for name in ("reserve", "settle"):
        real = getattr(Pool, name)

        def checked(self, *args, _real=real):
            result = _real(self, *args)
            if self.total_flops is not None:
                assert self.spent_flops + self.reserved_flops <= self.total_flops * (1 + 1e-12)
            if self.total_tokens is not None:
                assert self.spent_tokens + self.reserved_tokens <= self.total_tokens
            return result

        monkeypatch.setattr(Pool, name, checked)


def _check_pool(folder):
    summary = json.loads((folder / "summary.json").read_text())
    records = read_results(folder)
    pool = summary["pool"]
    assert pool["spent_flops"] <= pool["total_flops"]
    assert pool["left_flops"] == pytest.approx(pool["total_flops"] - pool["spent_flops"])
    assert sum(r["flops"]["total"] for r in records) == pytest.approx(pool["spent_flops"], rel=1e-9)
    return summary, records


@pytest.mark.slow
@settings(suppress_health_check=list(HealthCheck))
@given(
    allocator=st.sampled_from(["uniform", "probe_then_allocate"]),
    selector=st.sampled_from(["majority", "weighted"]),
    scale=st.floats(min_value=1.0, max_value=40.0),
    n_problems=st.integers(min_value=2, max_value=8),
    kill_after=st.integers(min_value=1, max_value=6),
    where=st.sampled_from(["state save", "torn state save", "policy call"]),
)
@example(
    allocator="probe_then_allocate",
    selector="weighted",
    scale=12.0,
    n_problems=5,
    kill_after=3,
    where="torn state save",
)
def test_pool_never_overdrawn_through_a_kill(
    tmp_path_factory, allocator, selector, scale, n_problems, kill_after, where
):
    with pytest.MonkeyPatch.context() as monkeypatch:
        _killed_and_resumed(tmp_path_factory, monkeypatch, allocator, selector, scale, n_problems, kill_after, where)


@pytest.mark.parametrize("allocator", ["uniform", "probe_then_allocate"])
@pytest.mark.parametrize("where", ["state save", "torn state save", "policy call"])
def test_pool_never_overdrawn_through_a_kill_at_each_kind_of_kill_point(
    tmp_path_factory, monkeypatch, allocator, where
):
    """One case of each allocator and kill point (the property above draws many; slow)."""
    _killed_and_resumed(tmp_path_factory, monkeypatch, allocator, "weighted", 12.0, 5, 3, where)


def _killed_and_resumed(tmp_path_factory, monkeypatch, allocator, selector, scale, n_problems, kill_after, where):
    """Killed at the `kill_after`-th state save or policy call and started again, a run never
    has more spent + reserved than its pool at any moment, its records sum to what the pool
    says was spent, and it ends as an uninterrupted run."""
    _watch_pool(monkeypatch)
    overrides = (*WORLD, f"strategy.selector={selector}", f"allocator={allocator}", f"n_problems={n_problems}")
    probe = make_config(*overrides, "budget.total_flops=1e30")
    parts = build(probe)
    one = max(
        worst_case(parts.engine, p, selector != "majority", 25).flops(4, False)
        for p in parts.task.problems()[:n_problems]
    )
    total = f"budget.total_flops={one * n_problems * scale * (1 + 1e-9)!r}"
    cfg = make_config(*overrides, total, "allocator.max_waves=8" if allocator != "uniform" else "allocator.max_n=64")
    clean, killed = tmp_path_factory.mktemp("clean"), tmp_path_factory.mktemp("killed")
    run(cfg, clean)
    real_write, real_generate, calls = allocate.append_line, SimulatedPolicy.generate, []

    def dying_write(path, line):
        calls.append(path)
        if len(calls) == kill_after and where == "torn state save":  # killed halfway through the line
            with path.open("ab") as file:
                file.write(line[: len(line) // 2])
            raise Killed
        real_write(path, line)
        if len(calls) == kill_after:
            raise Killed

    def dying_generate(self, requests):
        calls.append(len(requests))
        if len(calls) == kill_after:
            raise Killed
        return real_generate(self, requests)

    if where != "policy call":  # every wave saved (the policy-call kills keep the default spacing)
        monkeypatch.setattr(allocate, "SAVE_SPACING", 0)
        monkeypatch.setattr(allocate, "append_line", dying_write)
    else:
        monkeypatch.setattr(SimulatedPolicy, "generate", dying_generate)
    try:
        run(cfg, killed)
    except Killed:
        pass
    monkeypatch.setattr(allocate, "append_line", real_write)
    monkeypatch.setattr(SimulatedPolicy, "generate", real_generate)
    run(cfg, killed)
    _, clean_records = _check_pool(clean)
    _, killed_records = _check_pool(killed)
    assert _without_wall(killed_records) == _without_wall(clean_records)


@pytest.mark.slow
@settings(suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(POOLED_STRATEGIES),
    total=st.floats(min_value=1e11, max_value=3e14),
    max_batch=st.sampled_from([1, 3, 256]),
)
def test_engine_never_crosses_the_pool_with_any_strategy(name, total, max_batch):
    """The engine's reservation alone holds the pool, even without an allocator's plan."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _watch_pool(monkeypatch)
        _strategy_under_pool(name, total, max_batch)


@pytest.mark.parametrize("name", POOLED_STRATEGIES)
def test_engine_never_crosses_a_pool_of_a_few_problems_with_any_strategy(monkeypatch, name):
    """Each strategy, in calls of 3, on a pool under every strategy's free run (0.8e12 to 4.5e12
    FLOPs on these 12 problems), so it runs out; the property above draws many pools (slow)."""
    _watch_pool(monkeypatch)
    _strategy_under_pool(name, 4e11, 3)


def _strategy_under_pool(name, total, max_batch):
    task = load("task", "simulated", n=12)
    pool = Pool(total, None)
    engine = simulated_engine(task=task, max_batch=max_batch, pool=pool)
    outcomes = list(engine.run(task.problems(), strategy(name, task, n=8)))
    spent = sum(o.ledger.flops_total for o in outcomes)
    assert spent <= total
    assert spent == pytest.approx(pool.spent_flops, rel=1e-9)
    assert pool.reserved_flops == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("selector", ["majority", "weighted"])
def test_uniform_draws_the_fixed_run_first_then_spends_the_rest_evenly(tmp_path, selector):
    """A pool of exactly n solutions per problem at worst case: uniform's first wave is the
    fixed run at n, solution for solution; then it widens every problem alike, at the measured
    cost, until the pool is spent (a solution costs far less than its worst case)."""
    n, n_problems = 6, 12
    base = (*WORLD, f"strategy.selector={selector}", f"n_problems={n_problems}")
    fixed_cfg = make_config(*base, f"strategy.n={n}")
    parts = build(fixed_cfg)
    exact = sum(
        worst_case(parts.engine, p, selector != "majority", 25).flops(n, False)
        for p in parts.task.problems()[:n_problems]
    )
    run(fixed_cfg, tmp_path / "fixed")
    run(make_config(*base, "allocator=uniform", f"budget.total_flops={exact!r}"), tmp_path / "uniform")
    fixed, uniform = read_results(tmp_path / "fixed"), read_results(tmp_path / "uniform")
    assert [r["allocation"]["grants"][0] for r in uniform] == [n] * n_problems
    assert [r["candidates"][:n] for r in uniform] == [r["candidates"] for r in fixed]
    widths = [r["allocation"]["configuration"]["n"] for r in uniform]
    # the pool's last calls leave the cut problems at most a tenth behind (measured 43-47 and 51-52)
    assert min(widths) > 2 * n and max(widths) - min(widths) <= max(3, max(widths) // 10)
    summary, _ = _check_pool(tmp_path / "uniform")
    assert summary["pool"]["spent_flops"] >= 0.9 * exact


def test_probe_then_allocate_spends_more_on_split_problems(tmp_path):
    """Unanimous problems stop after the probe; the ones still open get more; every record
    says what it got and why."""
    cfg = make_config(*WORLD, "n_problems=40", "allocator=probe_then_allocate", "budget.total_flops=3e15")
    summary = run(cfg, tmp_path)
    records = read_results(tmp_path)
    unanimous = [r for r in records if r["allocation"]["reason"] == "unanimous"]
    others = [r for r in records if r["allocation"]["reason"] != "unanimous"]
    assert unanimous and others
    assert max(r["samples"] for r in unanimous) == 4
    assert sum(r["samples"] for r in others) / len(others) > 4
    assert all(r["allocation"]["estimate"]["samples"] <= r["samples"] for r in records)
    assert summary["pool"]["spent_flops"] <= 3e15


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ("allocator=uniform", "budget.total_flops=1e9"),
            "budget.total_flops=1e+09 is below one problem's minimum cost",
        ),
        (("allocator=probe_then_allocate", "budget.total_tokens=100"), "budget.total_tokens=100 is below one problem"),
        (("allocator=uniform",), "an allocator needs a data-set pool"),
        (("budget.total_flops=1e15",), "needs an allocator"),
        (("allocator=uniform", "budget.total_flops=-1"), "budget.total_flops must be a positive number"),
        (("allocator=probe_then_allocate", "budget.total_flops=1e15", "allocator.step=0"), "allocator.step must be"),
        (
            ("allocator=probe_then_allocate", "budget.total_flops=1e15", "allocator.min_flip=1.01"),
            "allocator.min_flip must lie in [0, 1], got 1.01",
        ),
        (
            ("allocator=probe_then_allocate", "budget.total_flops=1e15", "allocator.hopeless_agreement=true"),
            "allocator.hopeless_agreement must lie in [0, 1], got True",
        ),
        (
            ("allocator=probe_then_allocate", "budget.total_flops=1e15", "allocator.wave_fraction=0"),
            "allocator.wave_fraction must be > 0",
        ),
        (
            ("allocator=uniform", "budget.total_flops=1e15", "allocator.max_n=0"),
            "allocator.max_n must be a positive integer, got 0",
        ),
        (("allocator=uniform", "budget.total_flops=1e15", "strategy=rebase"), "'Rebase' is not supported"),
    ],
)
def test_bad_input_is_one_line(tmp_path, overrides, message):
    cfg = make_config("strategy=best_of_n", "n_problems=10", *overrides)
    with pytest.raises(ValueError) as error:
        run(cfg, tmp_path)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_allocator_name_is_refused():
    with pytest.raises(Exception, match="bogus"):
        make_config("allocator=bogus")


def _levels(folder, rows):
    return write_sweep(folder, [{"n_problems": 10, "source": "run", **r} for r in rows], selector="weighted")


def test_from_sweep_gives_the_hard_bin_the_width_its_table_pays_for(tmp_path):
    """Easy bin: nothing gained past width 4; hard bin: +0.4 at width 16. With room for the
    hard bin's upgrade, the predicted-hard half gets 16 solutions, the easy half stays at 4."""
    rows = [
        {"difficulty": "level 1", "strategy.n": 4, "accuracy": 0.95, "flops_total": 4e12},
        {"difficulty": "level 1", "strategy.n": 16, "accuracy": 0.95, "flops_total": 16e12},
        {"difficulty": "level 5", "strategy.n": 4, "accuracy": 0.3, "flops_total": 4e12},
        {"difficulty": "level 5", "strategy.n": 16, "accuracy": 0.7, "flops_total": 16e12},
    ]
    sweep = _levels(tmp_path / "sweep", rows)
    cfg = make_config(
        *WORLD, "n_problems=20", "allocator=from_sweep", f"allocator.sweep={sweep}", "budget.total_flops=1.5e15"
    )
    summary = run(cfg, tmp_path / "run")
    records = read_results(tmp_path / "run")
    by_bin = {}
    for r in records:
        by_bin.setdefault(r["allocation"]["estimate"]["bin"], []).append(r)
    assert {r["samples"] for r in by_bin["level 1"]} == {4}
    assert {r["samples"] for r in by_bin["level 5"]} == {16}
    assert len(by_bin["level 1"]) == len(by_bin["level 5"]) == 10
    easy = max(r["allocation"]["estimate"]["difficulty"] for r in by_bin["level 1"])
    assert easy <= min(r["allocation"]["estimate"]["difficulty"] for r in by_bin["level 5"])
    assert summary["pool"]["spent_flops"] <= 1.5e15


@pytest.mark.parametrize(
    "levels, message",
    [
        (None, "has no per-difficulty table (levels.json)"),
        ([{"difficulty": "level 1", "strategy.n": 2}], "no per-difficulty best_of_n rows"),
    ],
)
def test_from_sweep_without_a_table_is_one_line(tmp_path, levels, message):
    sweep = tmp_path / "sweep"
    if levels is None:
        sweep.mkdir()
    else:
        _levels(sweep, [{**r, "accuracy": 0.5, "flops_total": 1e12} for r in levels])
    cfg = make_config(
        *WORLD, "n_problems=4", "allocator=from_sweep", f"allocator.sweep={sweep}", "budget.total_flops=1e15"
    )
    with pytest.raises(ValueError) as error:
        run(cfg, tmp_path / "run")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_analysis_draws_one_curve_per_allocator_along_the_pool():
    """`budget.total_flops` swept: the allocation runs form one curve, ordered by pool, beside
    the fixed-width curve (experiments/analysis/analyze.py)."""
    from infscale.experiments.analysis.analyze import label_curves

    common = {"policy.name": "sim_small", "strategy.name": "best_of_n", "strategy.selector": "weighted", "seed": 0}
    fixed = [
        {
            **common,
            "strategy.n": n,
            "allocator.name": "none",
            "allocator.probe_n": None,
            "budget.total_flops": None,
            "accuracy": 0.5,
            "flops_total": n * 1e12,
        }
        for n in (4, 1)
    ]
    allocated = [
        {
            **common,
            "strategy.n": 16,
            "allocator.name": "probe_then_allocate",
            "allocator.probe_n": 4,
            "budget.total_flops": pool,
            "accuracy": 0.6,
            "flops_total": pool / 100,
        }
        for pool in (4e15, 1e15)
    ]
    curves = label_curves(fixed + allocated)
    assert sorted(curves) == [
        "sim_small best_of_n/weighted",
        "sim_small best_of_n/weighted allocator=probe_then_allocate",
    ]
    along = curves["sim_small best_of_n/weighted allocator=probe_then_allocate"]
    assert [p["budget.total_flops"] for p in along] == [1e15, 4e15]
    assert [p["strategy.n"] for p in curves["sim_small best_of_n/weighted"]] == [1, 4]


# --- from_sweep's plan, worked out by hand --------------------------------------------


# accuracy and mean FLOPs per problem of majority voting at each width, per difficulty bin,
# and rows the plan must leave out: another selector or strategy, an allocation run, a width
# below the probe's, a row without FLOPs (each would change the plan if it were read)
_TABLE = [
    {"difficulty": "easy", "strategy.n": 2, "accuracy": 0.9, "flops_total": 100, "n_problems": 20},
    {"difficulty": "easy", "strategy.n": 4, "accuracy": 0.95, "flops_total": 200, "n_problems": 20},
    {"difficulty": "hard", "strategy.n": 2, "accuracy": 0.3, "flops_total": 100, "n_problems": 40},
    {"difficulty": "hard", "strategy.n": 4, "accuracy": 0.5, "flops_total": 200, "n_problems": 40},
    {"difficulty": "hard", "strategy.n": 8, "accuracy": 0.7, "flops_total": 400, "n_problems": 40},
    {"difficulty": "hard", "strategy.n": 16, "accuracy": 1.0, "flops_total": 201, "strategy.selector": "weighted"},
    {"difficulty": "hard", "strategy.n": 16, "accuracy": 1.0, "flops_total": 201, "strategy.name": "beam_search"},
    {"difficulty": "hard", "strategy.n": 16, "accuracy": 1.0, "flops_total": 201, "allocator.name": "uniform"},
    {"difficulty": "easy", "strategy.n": 1, "accuracy": 0.1, "flops_total": 1},
    {"difficulty": "easy", "strategy.n": 16, "accuracy": 1.0, "flops_total": None},
]


@pytest.mark.parametrize(
    "flops_left, targets",
    [
        # every problem has its probe of 2 and costs 1 FLOP a solution: easy p0 p2, hard p1 p3 p4 p5.
        # Per FLOP, hard 2->4 gains 4 x 0.2 / (4 x 2) = 0.1, hard 4->8 4 x 0.2 / 16 = 0.05,
        # easy 2->4 2 x 0.05 / 4 = 0.025: each time the best of the raises that still fit; once
        # none fits, the best one goes to those of its problems that fit (problem order)
        (1.0, {"p0": 2, "p2": 2, "p1": 2, "p3": 2, "p4": 2, "p5": 2}),  # not even one problem's raise
        (7.0, {"p0": 4, "p2": 4, "p1": 4, "p3": 2, "p4": 2, "p5": 2}),  # easy (4), then hard 2->4 for p1 (2)
        (8.0, {"p0": 2, "p2": 2, "p1": 4, "p3": 4, "p4": 4, "p5": 4}),  # hard 2->4; 4->8 costs 4 a problem
        (24.0, {"p0": 2, "p2": 2, "p1": 8, "p3": 8, "p4": 8, "p5": 8}),  # then hard 4->8 (+16)
        (26.0, {"p0": 4, "p2": 2, "p1": 8, "p3": 8, "p4": 8, "p5": 8}),  # and easy 2->4 for p0 alone
        (28.0, {"p0": 4, "p2": 4, "p1": 8, "p3": 8, "p4": 8, "p5": 8}),
        (None, {"p0": 4, "p2": 4, "p1": 8, "p3": 8, "p4": 8, "p5": 8}),  # no FLOP cap: everything with a gain
    ],
)
def test_from_sweep_plans_widths_by_gain_per_flop_within_the_pool(tmp_path, flops_left, targets):
    from infscale.search.allocators.from_sweep import FromSweep

    allocator = FromSweep(sweep=str(write_sweep(tmp_path / "sweep", _TABLE)), probe_n=2, step=3)
    # three unanimous problems, three split ones; bins hold 20 and 40 problems: the two
    # easiest go to "easy", the other four (one unanimous) to "hard"
    states = _probed([["A", "A"], ["B", "C"], ["A", "A"], ["D", "E"], ["A", "A"], ["F", "G"]])
    runner = _PlanRunner(flops_left)
    assert allocator.grants(runner, states, 0) == {}  # every problem already has its probe
    grants = allocator.grants(runner, states, 1)
    bins = {s.problem.id: s.estimate["bin"] for s in states}
    assert bins == {"p0": "easy", "p2": "easy", "p4": "hard", "p1": "hard", "p3": "hard", "p5": "hard"}
    assert {s.problem.id: s.estimate["target"] for s in states} == targets
    # the first wave after the plan: at most step=3 more each; the plan fits, so the wave does
    assert grants == {pid: min(3, target - 2) for pid, target in targets.items() if target > 2}
    assert all(s.open for s in states) == bool(grants)


def test_from_sweep_closes_what_the_pool_cannot_pay_and_reads_only_its_selector(tmp_path):
    from infscale.search.allocators.from_sweep import FromSweep

    allocator = FromSweep(sweep=str(write_sweep(tmp_path / "sweep", _TABLE)), probe_n=2, step=3)
    states = _probed([["A", "B"], ["C", "D"]])
    allocator.grants(_PlanRunner(None), states, 1)  # no cap: p0 to "easy" (width 4), p1 to "hard" (8)
    assert allocator.grants(_PlanRunner(1.99), states, 2) == {}  # 2 more cost 2, 3 more 3: > 1.99
    assert [(s.open, s.reason) for s in states] == [(False, "bin easy: n=2 (pool)"), (False, "bin hard: n=2 (pool)")]
    table, sizes = allocator.table("majority")
    assert table == {
        "easy": {2: (0.9, 100.0), 4: (0.95, 200.0)},
        "hard": {2: (0.3, 100.0), 4: (0.5, 200.0), 8: (0.7, 400.0)},
    }
    assert sizes == {"easy": 20, "hard": 40}
    weighted, _ = allocator.table("weighted")
    assert weighted == {"hard": {16: (1.0, 201.0)}}
    with pytest.raises(ValueError, match="no per-difficulty best_of_n rows with selector 'best' at width >= 2"):
        allocator.table("best")


@pytest.mark.parametrize(
    "flops_left, tokens_left, level, grants",
    [
        (1050.0, None, 7, {"p0": 7, "p1": 7, "p2": 7}),  # 3 problems x 50 FLOPs x 7 = 1050 fits exactly
        (1049.0, None, 6, {"p0": 7, "p1": 7, "p2": 6}),  # 900, then one more each while it fits
        (None, 210, 6, {"p0": 7, "p1": 6, "p2": 6}),  # 32 tokens a level (p1: 12), then p0's 10 of 18
        (1e9, None, 8, {"p0": 8, "p1": 8, "p2": 8}),  # max_n
        (149.0, None, 0, {"p0": 1, "p1": 1}),  # not one each: one each as far as it goes
    ],
)
def test_uniform_water_fills_the_widest_level_its_expected_cost_fits(flops_left, tokens_left, level, grants):
    from infscale.search.allocators.uniform import Uniform
    from tests.cases_allocator_pools import PoolRunner

    runner = PoolRunner(flops_left, tokens_left)
    states = _probed([[], [], []])
    uniform = Uniform(max_n=8)
    assert uniform.level(runner, states) == level
    assert uniform.grants(runner, states, 0) == grants
    assert [s.estimate for s in states] == [{"n": level}] * 3 and all(s.open for s in states)
    # the next wave with nothing left: every problem closes with what it has
    assert uniform.grants(PoolRunner(0.0, None), states, 1) == {}
    assert [(s.open, s.reason) for s in states] == [(False, "uniform n=0")] * 3


def test_uniform_tops_up_the_problems_with_fewest_solutions_first_and_stops_at_max_n():
    from infscale.search.allocators.uniform import Uniform
    from tests.cases_allocator_pools import PoolRunner

    states = _probed([["A"] * 3, ["A"], ["A"] * 8, ["A"] * 2])  # p2 is at max_n
    # 50 FLOPs a solution, 260 left: level 3 costs 100 (p1) + 50 (p3) = 150; then p0, p1, p3 at 3
    # get one more each, in problem order, while the 110 left lasts: p0 and p1
    assert Uniform(max_n=8).grants(PoolRunner(260.0, None), states, 1) == {"p1": 3, "p3": 1, "p0": 1}
    assert [(s.open, s.reason) for s in states] == [(True, ""), (True, ""), (False, "uniform n=8 (max_n)"), (True, "")]


def test_probe_then_allocate_re_estimates_every_problem_with_new_solutions_and_only_those():
    from infscale.search.allocators.probe_then_allocate import ProbeThenAllocate

    allocator = ProbeThenAllocate(
        probe_n=2,
        step=2,
        max_n=8,
        wave_fraction=1.0,
        min_flip=0.0,
        hopeless_cap=8,
        hopeless_agreement=0.0,
        prior=1.0,
        max_waves=10,
    )
    runner = _PlanRunner(1e9)
    runner.measured = lambda state: 50.0
    states = _probed([["A", "B"], ["A", "B", "A"], ["C", "D"]])
    stale = {"samples": 2, "agreement": 0.123, "flip": 0.5, "difficulty": 0.877, "mean_score": None}
    states[0].estimate = dict(stale)  # nothing new since: kept as it is
    states[1].estimate = dict(stale)  # one more solution since: estimated again
    grants = allocator.grants(runner, states, 1)
    assert states[0].estimate == stale
    assert states[1].estimate["samples"] == 3 and states[1].estimate["agreement"] == pytest.approx(2 / 3, abs=1e-6)
    assert states[2].estimate["samples"] == 2 and states[2].estimate["agreement"] == 0.5
    assert grants == {"p0": 2, "p1": 2, "p2": 2}


# --- the runner's arithmetic ---------------------------------------------------------


def _runner(total_flops=None, total_tokens=None, selector="weighted", policy=None, allocator=None):
    from infscale.search.allocators.waves import WaveRunner
    from infscale.search.engine import Engine, Sampling
    from tests.engine_helpers import MODEL

    task = load("task", "simulated", n=4)
    engine = Engine(
        task,
        policy or load("policy", "simulated", model=MODEL),
        load("reward", "simulated", model=MODEL),
        sampling=Sampling(temperature=1.0, max_step_tokens=16, max_tokens=64),
        max_batch=3,
        pool=Pool(total_flops, total_tokens),
    )
    return WaveRunner(engine, strategy("best_of_n", task, selector=selector), allocator), task


def test_worst_case_is_one_prefill_per_expansion_and_the_longest_scored_solution():
    from infscale.search.allocators.cost import SampleCost

    runner, task = _runner(1e18)
    engine, problem = runner.engine, task.problems()[0]
    spec, length = engine.policy.spec, engine.policy.count_tokens(problem.prompt)
    scored = worst_case(engine, problem, True, 25)
    assert scored == SampleCost(
        prefill=spec.flops_span(0, length),
        each=spec.flops_span(length, 64) + engine.reward.spec.flops_span(0, length + 64 + 25),
        tokens=64,
    )
    plain = worst_case(engine, problem, False, 25)
    assert plain.each == spec.flops_span(length, 64) and plain.prefill == scored.prefill
    # one prefill per expansion however many calls of max_batch = 3; none for a prefilled root
    assert scored.flops(7, False) == scored.prefill + 7 * scored.each
    assert scored.flops(7, True) == 7 * scored.each
    assert scored.flops(0, False) == 0.0 and scored.flops(-1, False) == 0.0
    assert SampleCost(None, 5.0, 1).flops(2, False) is None and SampleCost(5.0, None, 1).flops(2, False) is None
    # the runner's view: cached per problem, in the pool's unit; a later wave's root is prefilled
    state = ProblemState.fresh(problem, Ledger(None, None))
    assert runner.worst_flops(state, 7) == scored.flops(7, False) and runner.cost(state) is runner.cost(state)
    state.tree.root.expansions = 1
    assert runner.worst_flops(state, 7) == scored.flops(7, True)


def test_a_pool_that_exactly_pays_is_accepted_and_one_flop_or_token_less_is_not():
    probe = _runner(1e18)[0]
    states = [ProblemState.fresh(p, Ledger(None, None)) for p in probe.engine.task.problems()]
    one = min(probe.worst_flops(s, 1) for s in states)
    for total, fits in ((one, True), (one * (1 - 1e-12), False)):
        runner, _ = _runner(total, allocator=SimpleNamespace(check=lambda *a: None))
        if fits:
            runner.check(states)
        else:
            with pytest.raises(ValueError, match="is below one problem's minimum cost"):
                runner.check(states)
    for total, fits in ((64, True), (63, False)):
        runner, _ = _runner(total_tokens=total, allocator=SimpleNamespace(check=lambda *a: None))
        if fits:
            runner.check(states)
        else:
            with pytest.raises(
                ValueError,
                match=r"budget.total_tokens=63 is below one problem's minimum cost \(one solution: 64 tokens",
            ):
                runner.check(states)


def test_measured_cost_is_the_mean_so_far_in_the_pools_unit_or_the_worst_case_before_any():
    flops_pool, task = _runner(1e18)
    tokens_pool, _ = _runner(total_tokens=10**6)
    state = ProblemState.fresh(task.problems()[0], Ledger(None, None))
    assert flops_pool.measured(state) == flops_pool.worst_flops(state, 1)
    assert tokens_pool.measured(state) == 64.0
    # before its own first solution, a problem is expected to cost the run's mean so far
    other = ProblemState.fresh(task.problems()[1], Ledger(None, None))
    other.ledger.samples, other.ledger.flops_decode, other.ledger.generated = 2, 300.0, 30
    flops_pool.observe([state, other])
    tokens_pool.observe([state, other])
    assert flops_pool.measured(state) == 150.0 and tokens_pool.measured(state) == 15.0
    state.ledger.samples, state.ledger.flops_decode, state.ledger.generated = 4, 400.0, 40
    assert flops_pool.measured(state) == 100.0 and tokens_pool.measured(state) == 10.0
    flops_pool.observe([state, other])  # (400 + 300) / 6 solutions
    assert flops_pool.typical == pytest.approx(700 / 6) and flops_pool.room() == 1e18


class _Waves:
    """An allocator that grants what a list says, wave by wave, and records its calls."""

    def __init__(self, waves, pause=0.0):
        self.waves, self.pause, self.calls = waves, pause, 0

    def check(self, runner, states):
        pass

    def grants(self, runner, states, wave):
        import time

        self.calls += 1
        time.sleep(self.pause)
        return dict(self.waves[wave]) if wave < len(self.waves) else {}


def test_the_wave_runner_runs_the_waves_it_is_granted_and_adds_up_their_time():
    waves = _Waves([{"sim-0-00000": 2, "sim-0-00001": 1}, {"sim-0-00000": 1, "sim-0-00001": 0}, {}], pause=0.01)
    runner, task = _runner(1e18, allocator=waves)
    states = [
        ProblemState.fresh(p, Ledger(runner.engine.policy.spec, runner.engine.reward.spec)) for p in task.problems()
    ]
    walls, real_run = [], runner.engine.run

    def timed_run(*args, **kwargs):
        for outcome in real_run(*args, **kwargs):
            walls.append((outcome.problem.id, outcome.wall_s))
            yield outcome

    runner.engine.run = timed_run
    saved = []
    assert runner.run(states, 0, saved.append) == 2
    assert saved == [1, 2] and waves.calls == 3
    assert [len(s.samples) for s in states] == [3, 1, 0, 0]
    assert [s.grants for s in states] == [[2, 1], [1], [], []]  # a grant of 0 is no grant
    assert states[0].wall_s == pytest.approx(sum(w for pid, w in walls if pid == "sim-0-00000"), abs=1e-12)
    assert 0.03 <= runner.overhead_s < 1.0  # the three decisions, each pausing 10 ms
    assert all(s.open for s in states)


def test_a_wave_the_pool_cannot_pay_closes_its_problems_and_ends_the_run():
    from tests.fake_backends import full_length_policy

    first = {"sim-0-00000": 1, "sim-0-00001": 1}
    probe, task = _runner(1e18, selector="majority", policy=full_length_policy(16))
    states = [ProblemState.fresh(p, Ledger(None, None)) for p in task.problems()]
    exact = sum(probe.worst_flops(s, 1) for s in states[:2])  # every sample costs its worst case
    waves = _Waves([first, first, first])
    runner, _ = _runner(exact, selector="majority", policy=full_length_policy(16), allocator=waves)
    states = [
        ProblemState.fresh(p, Ledger(runner.engine.policy.spec, runner.engine.reward.spec)) for p in task.problems()
    ]
    assert runner.run(states, 0, lambda wave: None) == 2
    assert [len(s.samples) for s in states] == [1, 1, 0, 0] and waves.calls == 2
    # the pool is spent: every open problem ends, not only the wave's (a resumed run would grant them again)
    assert [(s.open, s.reason) for s in states] == [(False, "pool")] * 4


_PROBED = [
    ["A", "A"],  # p0 unanimous
    ["A", "B", "C", "D"],  # p1 hopeless: 4 >= hopeless_cap solutions, top answer 1/4 <= 0.34
    ["A"] * 7 + ["B"],  # p2 at max_n
    ["A"] * 5 + ["B"],  # p3 settled: flip(5, 1 of 6) = 0.0455 < min_flip
    ["A", "B"],  # p4 open: flip 0.5, agreement 0.5, gain 0.25
    ["A", "A", "B"],  # p5 open: flip 0.3116, agreement 2/3, gain 0.2077
    [],  # p6 nothing drawn: the pool cut its probe; it gets the rest of it first
    ["A", "A", "A", "B", "B", "B", "C"],  # p7 open: flip 0.5, agreement 3/7, gain 0.2143; one more fits max_n
]


@pytest.mark.parametrize(
    "flops_left, wave_fraction, grants",
    [
        # p6's probe first (2 x 4 = 8 expected), then by gain per expected FLOP (measured cost
        # p5 1, p4 2, p7 3): p5 0.208 (2 more: 2), p4 0.125 (4), p7 0.071 (1 more: 3); 17 in all
        (17.0, 1.0, {"p6": 2, "p5": 2, "p4": 2, "p7": 1}),
        (16.0, 1.0, {"p6": 2, "p5": 2, "p4": 2}),  # p7's 3 no longer fits after 14
        (13.0, 1.0, {"p6": 2, "p5": 2, "p7": 1}),  # p4's 4 does not fit after 10; p7's 3 does
        (7.0, 1.0, {"p5": 2, "p4": 2}),  # p6's probe does not fit; the others do
        (1000.0, 0.014, {"p6": 2, "p5": 2, "p4": 2}),  # 8 + 2 + 4 = 14 <= 14 allowed; p7 would make 17
        (1000.0, 0.001, {"p6": 2}),  # a probe is finished whatever the allowance; the first grant is made
        (1000.0, 0.013, {"p6": 2, "p5": 2}),  # 14 > 13: the sum so far counts, not the last
    ],
)
def test_probe_then_allocate_closes_by_its_rules_and_grants_by_gain_per_flop(flops_left, wave_fraction, grants):
    allocator = _probe_allocator(wave_fraction=wave_fraction)
    runner = _PlanRunner(flops_left)
    runner.measured = lambda state: {"p4": 2.0, "p5": 1.0, "p6": 4.0, "p7": 3.0}[state.problem.id]
    states = _probed(_PROBED)
    assert allocator.grants(runner, states, 1) == grants
    assert list(allocator.grants(runner, states, 1)) == list(grants)  # in that order
    reasons = [(s.open, s.reason) for s in states]
    assert reasons == [
        (False, "unanimous"),
        (False, "hopeless"),
        (False, "max_n"),
        (False, "settled"),
        (True, ""),
        (True, ""),
        (True, ""),
        (True, ""),
    ]
    assert states[3].estimate["flip"] == pytest.approx(0.0455, abs=1e-4)


def test_probe_then_allocate_closes_what_the_pool_cannot_pay_and_stops_at_max_waves():
    runner = _PlanRunner(0.99)  # not one solution's expected cost
    states = _probed(_PROBED)
    assert _probe_allocator().grants(runner, states, 1) == {}
    assert [s.reason for s in states if s.problem.id in ("p4", "p5", "p6", "p7")] == ["pool"] * 4
    states = _probed(_PROBED)
    assert _probe_allocator(max_waves=3).grants(runner, states, 3) == {}
    assert [s.reason for s in states if s.problem.id in ("p4", "p5", "p7")] == ["max_waves"] * 3
    states = _probed(_PROBED)
    _probe_allocator(max_waves=3).grants(_PlanRunner(1e9), states, 2)
    assert all(s.open for s in states if s.problem.id in ("p4", "p5", "p7"))  # wave 2 < 3: open
    for key, value, message in [
        ("prior", 0, "allocator.prior must be a positive number, got 0"),
        ("prior", True, "allocator.prior must be a positive number, got True"),
        ("probe_n", 9, "allocator.probe_n=9 exceeds allocator.max_n=8"),
        ("wave_fraction", 0.0, "allocator.wave_fraction must be > 0"),
    ]:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            _probe_allocator(**{key: value})
    assert _probe_allocator(probe_n=8).probe_n == 8  # probe_n = max_n is allowed


from tests.cases_allocator_pools import *  # noqa: E402,F401,F403  (collected here: the mutation selection lists this file)
