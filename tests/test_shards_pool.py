"""A data-set pool divided among shards (experiments/app/shard.py): shard i of k holds
size_i of the n selected problems and gets total * size_i / n, rounded down; the shares never
add up to more than the pool, and the union of the shards' spending stays within it. In-process
allocated runs of the simulated world, and their merge in infscale-collect."""

import json
from fractions import Fraction

import pytest

from infscale.budgets.pool import Pool
from infscale.experiments.analysis import collect
from infscale.experiments.app.run import run
from infscale.experiments.app.shard import Shard
from tests.conftest import make_config, read_results

N = 10
TOTAL = 3e14  # uniform affords 5 of the 8 solutions each (worst case)
WORLD = ("strategy=best_of_n", "strategy.n=8", "task.n=40", f"n_problems={N}", f"budget.total_flops={TOTAL!r}")


def test_each_shard_gets_the_pool_times_its_share_of_the_problems_rounded_down():
    pool = Pool(1e9, 100)
    shares = [Shard(3, i).pool(pool, N) for i in range(3)]
    assert [s.total_flops for s in shares] == [4e8, 3e8, 3e8]
    assert [s.total_tokens for s in shares] == [40, 30, 30]
    seven = [Shard(3, i).pool(pool, 7).total_tokens for i in range(3)]
    assert seven == [42, 28, 28]  # 300/7 = 42.86, 200/7 = 28.57: 2 tokens of the pool go unused
    assert Shard().pool(pool, N) is pool and Shard(3, 0).pool(None, N) is None


@pytest.mark.parametrize("total", [1.0, 1e15 / 3, 7.000000000000001e14, 2.5e17, 123456789.123])
def test_the_shares_never_add_up_to_more_than_the_pool(total):
    for count in range(2, 9):
        for selected in range(count, 40):
            shares = [Shard(count, i).pool(Pool(total, None), selected).total_flops for i in range(count)]
            assert sum(Fraction(s) for s in shares) <= Fraction(total)
            assert sum(shares) == pytest.approx(total, rel=1e-12)


def test_a_shard_without_problems_is_one_line():
    with pytest.raises(ValueError, match=r"shard\.index=3 with shard\.count=4 holds none of the 3 problems") as error:
        Shard(4, 3).pool(Pool(1e9, None), 3)
    assert "\n" not in str(error.value)


def _shards(root, allocator):
    summaries = []
    for i in range(3):
        cfg = make_config(*WORLD, f"allocator={allocator}", "shard.count=3", f"shard.index={i}")
        summaries.append(run(cfg, root / allocator / f"job-shard{i}of3"))
    return summaries


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    root = tmp_path_factory.mktemp("pool")
    whole = run(make_config(*WORLD, "allocator=uniform"), root / "whole")
    return root, whole, {name: _shards(root, name) for name in ("uniform", "probe_then_allocate")}


def _spent(root, allocator):
    return [sum(r["flops"]["total"] for r in read_results(root / allocator / f"job-shard{i}of3")) for i in range(3)]


@pytest.mark.parametrize("allocator", ["uniform", "probe_then_allocate"])
def test_the_union_of_the_shards_spending_stays_within_the_pool(sharded, allocator):
    root, _, summaries = sharded
    pools = [s["pool"] for s in summaries[allocator]]
    assert [p["total_flops"] for p in pools] == [TOTAL * 4 / 10, TOTAL * 3 / 10, TOTAL * 3 / 10]
    spent = _spent(root, allocator)
    assert [p["spent_flops"] for p in pools] == pytest.approx(spent, rel=1e-9)
    assert all(p["spent_flops"] <= p["total_flops"] for p in pools)
    assert 0 < sum(spent) <= TOTAL
    ids = [r["problem_id"] for i in range(3) for r in read_results(root / allocator / f"job-shard{i}of3")]
    assert len(ids) == len(set(ids)) == N


def test_uniform_shards_of_a_proportional_pool_spend_it_as_the_unsharded_run_does(sharded):
    """Every shard's share per problem is the whole pool's, so uniform spends each share as the
    unsharded run spends the whole, widening its problems alike (it tops up to what is left)."""
    root, whole, summaries = sharded
    for pool in (s["pool"] for s in summaries["uniform"]):
        assert 0.9 * pool["total_flops"] <= pool["spent_flops"] <= pool["total_flops"]
    widths = [
        r["allocation"]["configuration"]["n"]
        for i in range(3)
        for r in read_results(root / "uniform" / f"job-shard{i}of3")
    ]
    unsharded = [r["allocation"]["configuration"]["n"] for r in read_results(root / "whole")]
    assert sum(widths) / len(widths) == pytest.approx(sum(unsharded) / len(unsharded), rel=0.1)
    assert sum(_spent(root, "uniform")) == pytest.approx(whole["pool"]["spent_flops"], rel=0.05)


def test_collect_merges_the_shards_pools_into_one(sharded):
    root, whole, summaries = sharded
    merged = collect.collect(root / "uniform")
    assert len(merged.rows) == 1 and merged.rows[0]["n_problems"] == N
    correct = [r["correct"] for i in range(3) for r in read_results(root / "uniform" / f"job-shard{i}of3")]
    assert merged.rows[0]["accuracy"] == pytest.approx(sum(correct) / N, rel=1e-12)
    summary = merged.jobs[0].summary
    assert summary["pool"]["total_flops"] == pytest.approx(TOTAL, rel=1e-12)
    spent = sum(s["pool"]["spent_flops"] for s in summaries["uniform"])
    assert summary["pool"]["spent_flops"] == pytest.approx(spent, rel=1e-12)
    assert summary["pool"]["left_flops"] == pytest.approx(TOTAL - spent, rel=1e-9)
    assert sum(summary["allocation"]["reasons"].values()) == N
    samples = [r["samples"] for i in range(3) for r in read_results(root / "uniform" / f"job-shard{i}of3")]
    assert summary["allocation"]["samples_mean"] == pytest.approx(sum(samples) / N)
    on_disk = [json.loads((root / "uniform" / f"job-shard{i}of3" / "summary.json").read_text()) for i in range(3)]
    assert summary["allocation"]["waves"] == max(s["allocation"]["waves"] for s in on_disk)
