"""A run-wide pool is meant to be spent (DESIGN.md, compute accounting): sized at 1.2x what
the fixed run at n = 4 spends (measured here, on the simulated world), far below the worst
case of a probe of 4 solutions per problem, every allocator starts, spends at least 90% of
the pool, and never overdraws it."""

from __future__ import annotations

import json

import pytest

from infscale.experiments.app.run import run
from tests.allocator_helpers import write_sweep
from tests.conftest import make_config, read_results

N_PROBLEMS = 200
WORLD = ("strategy=best_of_n", f"task.n={N_PROBLEMS}", f"n_problems={N_PROBLEMS}")

# what each width buys per bin (accuracy, mean FLOPs): more solutions help the hard bin most
_LEVELS = [
    {"difficulty": bin_, "strategy.n": n, "accuracy": acc, "flops_total": n * 4e11, "n_problems": 100}
    for bin_, rows in {
        "easy": ((4, 0.9), (8, 0.93), (16, 0.95)),
        "hard": ((4, 0.4), (8, 0.55), (16, 0.65), (32, 0.7)),
    }.items()
    for n, acc in rows
]


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> float:
    """1.2x the FLOPs the fixed run at n = 4 spends on these problems."""
    folder = tmp_path_factory.mktemp("fixed")
    run(make_config(*WORLD, "strategy.n=4"), folder)
    return 1.2 * sum(r["flops"]["total"] for r in read_results(folder))


@pytest.mark.parametrize("allocator", ["uniform", "probe_then_allocate", "from_sweep"])
def test_every_allocator_spends_at_least_90_percent_of_a_pool_sized_at_the_expected_spend(tmp_path, pool, allocator):
    overrides = [*WORLD, f"allocator={allocator}", f"budget.total_flops={pool!r}"]
    if allocator == "from_sweep":
        overrides.append(f"allocator.sweep={write_sweep(tmp_path / 'sweep', _LEVELS, selector='weighted')}")
    summary = run(make_config(*overrides), tmp_path / "run")
    records = read_results(tmp_path / "run")
    spent = sum(r["flops"]["total"] for r in records)
    assert len(records) == N_PROBLEMS
    assert 0.9 * pool <= spent <= pool
    assert summary["pool"]["spent_flops"] == pytest.approx(spent, rel=1e-9)
    pool_line = json.loads((tmp_path / "run" / "summary.json").read_text())["pool"]
    assert pool_line["total_flops"] == pool and pool_line["left_flops"] == pytest.approx(pool - spent, rel=1e-9)
    if allocator == "uniform":  # the same width for every problem, give or take the pool's last calls
        widths = [r["samples"] for r in records]
        assert max(widths) - min(widths) <= 2
