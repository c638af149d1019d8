"""Subsampled best-of-N curves: identical accounting to a real run at n, agreement within CI."""

import numpy as np
import pytest

from infscale.experiments.analysis import curves
from infscale.experiments.app.build import build_task
from infscale.experiments.app.run import run
from tests.conftest import make_config, read_results

PROBLEMS = 80


def _run(tmp_path_factory, *overrides):
    folder = tmp_path_factory.mktemp("run")
    cfg = make_config("strategy=best_of_n", f"n_problems={PROBLEMS}", "engine.max_batch=3", *overrides)
    summary = run(cfg, folder)
    return cfg, read_results(folder), summary


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    wide = _run(tmp_path_factory, "strategy.n=16")
    real_weighted = _run(tmp_path_factory, "strategy.n=4")
    real_majority = _run(tmp_path_factory, "strategy.n=4", "strategy.selector=majority")
    return wide, real_weighted, real_majority


def _points(wide, subsets, draws=64, max_batch=None):
    cfg, records, _ = wide
    problems = curves.prepare(records, build_task(cfg))
    selectors = ["majority", "weighted", "pass@n"]
    return {p.selector: p for p in curves.subsample(problems, [4], selectors, max_batch, draws, subsets)}


def test_prefix_subset_is_exactly_the_real_run(runs):
    """The first 4 of 16 samples are the samples a run at n=4 draws (seeds seed + j), and a
    subset is charged the prompt's prefill once (one expansion, however many calls of max_batch
    3), its own samples' decode, and reward FLOPs only when the selector needs scores."""
    wide, real_weighted, real_majority = runs
    points = _points(wide, "prefix")
    for selector, (_, real, _) in (("weighted", real_weighted), ("majority", real_majority)):
        point = points[selector]
        assert point.correct == [float(r["correct"]) for r in real]
        assert point.flops_total == pytest.approx([r["flops"]["total"] for r in real], rel=1e-12)
        assert point.flops_paper == pytest.approx([r["flops"]["paper"] for r in real], rel=1e-12)
        assert point.tokens_generated == [r["tokens"]["generated"] for r in real]
    assert all(r["flops"]["reward"] == 0 for r in real_majority[1])
    assert points["weighted"].flops_total[0] > points["majority"].flops_total[0]
    # Records charged before compute.reuse paid the prefill per call: 2 of the 6 calls at n=16.
    legacy = _points(wide, "prefix", max_batch=3)["majority"]
    prefill = [r["flops"]["policy_prefill"] for r in wide[1]]
    expected = [t - p * (1 - 2 / 6) for t, p in zip(points["majority"].flops_total, prefill)]
    assert legacy.flops_total == pytest.approx(expected, rel=1e-12)


def test_bootstrap_point_agrees_with_real_run_within_ci(runs):
    wide, real_weighted, real_majority = runs
    points = _points(wide, "bootstrap")
    for selector, (_, _real, summary) in (("weighted", real_weighted), ("majority", real_majority)):
        estimate = points[selector].summary()
        assert summary["accuracy_lo"] <= estimate["accuracy"] <= summary["accuracy_hi"]
        assert estimate["accuracy_lo"] <= summary["accuracy"] <= estimate["accuracy_hi"]
        assert estimate["flops_total"] == pytest.approx(summary["flops_total"], rel=0.05)
        assert estimate["tokens_generated"] == pytest.approx(summary["tokens_generated"], rel=0.05)
        assert estimate["wall_s"] is None


def test_coverage_bounds_every_selector(runs):
    points = _points(runs[0], "bootstrap")
    coverage = np.array(points["pass@n"].correct)
    for selector in ("majority", "weighted"):
        assert np.all(np.array(points[selector].correct) <= coverage + 1e-12)
    assert points["pass@n"].summary()["accuracy"] > points["majority"].summary()["accuracy"]


def test_full_width_is_deterministic_and_matches_the_run(runs):
    cfg, records, summary = runs[0]
    problems = curves.prepare(records, build_task(cfg))
    (point,) = curves.subsample(problems, [16], ["weighted"], None, draws=64)
    assert point.correct == [float(r["correct"]) for r in records]
    assert point.summary()["flops_total"] == pytest.approx(summary["flops_total"], rel=1e-12)


def test_ineligible_runs_say_why(runs):
    cfg, records, _ = runs[0]
    assert curves.eligible(records, {"max_tokens": 5000}).startswith("a budget cut")
    assert curves.eligible([], None) == "no problems"
    stripped = [
        {**r, "candidates": [{k: v for k, v in c.items() if k != "flops"} for c in r["candidates"]]} for r in records
    ]
    assert "predates per-candidate costs" in curves.eligible(stripped, None)
    problems = curves.prepare(runs[2][1], build_task(cfg))
    with pytest.raises(ValueError, match="need scored samples"):
        curves.subsample(problems, [2], ["weighted"], 3)
    with pytest.raises(ValueError, match="cannot subsample n=8"):
        curves.subsample(problems, [8], ["majority"], 3)


def test_powers_of_two():
    assert curves.powers_of_two(64) == [1, 2, 4, 8, 16, 32, 64]
    assert curves.powers_of_two(12) == [1, 2, 4, 8, 12]
    assert curves.powers_of_two(1) == [1]
