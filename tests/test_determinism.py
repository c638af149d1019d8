"""Same seed, same results; results do not depend on batching."""

import pytest

from infscale.experiments.app.run import run
from tests.conftest import make_config, read_results
from tests.engine_helpers import strategy_names


def strip_time(records):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]


@pytest.mark.parametrize("strategy", [s for s in strategy_names() if s != "greedy"])
def test_same_seed_same_results_whatever_the_batching(tmp_path, strategy):
    base = [f"strategy={strategy}", "strategy.n=8", "n_problems=20", "seed=5"]
    if strategy == "mcts":  # wider than max_batch=3 below, so that some request is split
        base += ["strategy.children=4", "strategy.simulate=sample"]
    run(make_config(*base), tmp_path / "a")
    run(make_config(*base), tmp_path / "b")
    run(make_config(*base, "engine.max_batch=8", "engine.max_concurrent=2"), tmp_path / "c")
    run(make_config(*base, "engine.max_batch=3", "engine.max_concurrent=3"), tmp_path / "d")
    run(make_config(*base, "engine.max_batch=2048"), tmp_path / "e")  # a ran auto: 256 here
    a, b, c, d, e = (strip_time(read_results(tmp_path / x)) for x in "abcde")
    assert a == b == c == e
    assert len(a) == 20
    # A request wider than max_batch is split, and each piece computes its prompt again: that
    # is observed (tokens.recomputed, flops.executed); the bill and every sample stay the same.
    assert [strip_observed(r) for r in a] == [strip_observed(r) for r in d]
    assert sum(r["tokens"]["recomputed"] for r in d) > sum(r["tokens"]["recomputed"] for r in a)


def strip_observed(record):
    tokens = {k: v for k, v in record["tokens"].items() if k != "recomputed"}
    flops = {k: v for k, v in record["flops"].items() if k != "executed"}
    return {**record, "tokens": tokens, "flops": flops}


def test_another_seed_gives_other_samples(tmp_path):
    run(make_config("n_problems=10", "seed=1"), tmp_path / "a")
    run(make_config("n_problems=10", "seed=2"), tmp_path / "b")
    assert strip_time(read_results(tmp_path / "a")) != strip_time(read_results(tmp_path / "b"))


@pytest.mark.parametrize("scheduler", ["lockstep", "continuous"])
def test_a_finished_run_resumes_without_recomputing(tmp_path, scheduler):
    cfg = make_config("n_problems=6", f"engine.scheduler={scheduler}")
    run(make_config("n_problems=3", f"engine.scheduler={scheduler}"), tmp_path)
    first = read_results(tmp_path)
    run(cfg, tmp_path)
    both = read_results(tmp_path)
    assert both[:3] == first
    run(make_config("n_problems=6"), tmp_path / "fresh")  # lockstep, uninterrupted
    assert strip_time(both) == strip_time(read_results(tmp_path / "fresh"))
