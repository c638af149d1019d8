"""Data-set pools and allocators (issue 17): the pool is never overdrawn, whatever the
allocator, pool or kill point; `uniform` at a pool of exactly n solutions per problem is the
fixed best_of_n run at n; bad input gets one-line errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from infscale.budgets.pool import Pool
from infscale.experiments import allocate
from infscale.experiments.build import build, load
from infscale.experiments.run import run
from infscale.policies.simulated import SimulatedPolicy
from infscale.search.allocators.cost import worst_case
from tests.conftest import make_config, read_results
from tests.engine_helpers import simulated_engine, strategy

WORLD = ("strategy=best_of_n", "task.n=40")


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


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
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


def _killed_and_resumed(tmp_path_factory, monkeypatch, allocator, selector, scale, n_problems, kill_after, where):
    """Killed at the `kill_after`-th state save or policy call and started again, a run never
    has more spent + reserved than its pool at any moment, its records sum to what the pool
    says was spent, and it ends as an uninterrupted run."""
    _watch_pool(monkeypatch)
    overrides = (*WORLD, f"strategy.selector={selector}", f"allocator={allocator}", f"n_problems={n_problems}")
    probe = make_config(*overrides, "budget.total_flops=1e30")
    parts = build(probe)
    one = max(
        worst_case(parts.engine, p, selector != "majority", 25).flops(4, 256)
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


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(["best_of_n", "beam", "dvts", "rebase", "mcts", "adaptive"]),
    total=st.floats(min_value=1e11, max_value=3e14),
    max_batch=st.sampled_from([1, 3, 256]),
)
def test_engine_never_crosses_the_pool_with_any_strategy(name, total, max_batch):
    """The engine's reservation alone holds the pool, even without an allocator's plan."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _watch_pool(monkeypatch)
        _strategy_under_pool(name, total, max_batch)


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
def test_uniform_at_exactly_n_solutions_per_problem_is_the_fixed_run(tmp_path, selector):
    n, n_problems = 6, 12
    base = (*WORLD, f"strategy.selector={selector}", f"n_problems={n_problems}")
    fixed_cfg = make_config(*base, f"strategy.n={n}")
    parts = build(fixed_cfg)
    exact = sum(
        worst_case(parts.engine, p, selector != "majority", 25).flops(n, 256)
        for p in parts.task.problems()[:n_problems]
    )
    run(fixed_cfg, tmp_path / "fixed")
    run(make_config(*base, "allocator=uniform", f"budget.total_flops={exact!r}"), tmp_path / "uniform")
    fixed, uniform = read_results(tmp_path / "fixed"), read_results(tmp_path / "uniform")
    assert [r["allocation"]["configuration"]["n"] for r in uniform] == [n] * n_problems
    keys = ("problem_id", "answer", "correct", "candidates", "samples", "tokens", "flops")
    assert [{k: r[k] for k in keys} for r in uniform] == [{k: r[k] for k in keys} for r in fixed]
    summary = json.loads((tmp_path / "uniform" / "summary.json").read_text())
    assert summary["accuracy"] == json.loads((tmp_path / "fixed" / "summary.json").read_text())["accuracy"]
    # one FLOP less and the same pool affords only n - 1 solutions each
    run(make_config(*base, "allocator=uniform", f"budget.total_flops={exact - 1!r}"), tmp_path / "less")
    assert {r["allocation"]["configuration"]["n"] for r in read_results(tmp_path / "less")} == {n - 1}


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
        (("allocator=uniform", "budget.total_flops=2e13"), "affords no solution for each of the 10 problems"),
        (("allocator=probe_then_allocate", "budget.total_flops=1e14"), "cannot pay the probe"),
        (("allocator=uniform",), "an allocator needs a data-set pool"),
        (("budget.total_flops=1e15",), "needs an allocator"),
        (("allocator=uniform", "budget.total_flops=-1"), "budget.total_flops must be a positive number"),
        (("allocator=probe_then_allocate", "budget.total_flops=1e15", "allocator.step=0"), "allocator.step must be"),
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
    folder.mkdir()
    base = {"strategy.name": "best_of_n", "strategy.selector": "weighted", "n_problems": 10, "source": "run"}
    (folder / "levels.json").write_text(json.dumps([{**base, **r} for r in rows]))
    return folder


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
