"""Pareto front, bootstrap CI coverage, scaling-fit recovery, FLOPs saved, and the
analyze + plot pipeline on a small real sweep."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib import image

from infscale.experiments.analysis import analyze, collect, fits, optimal, plot
from infscale.experiments.app.run import run
from infscale.experiments.stats import bootstrap_ci
from tests.conftest import make_config


def _points(pairs):
    return [{"flops_total": c, "accuracy": a, "id": i} for i, (c, a) in enumerate(pairs)]


def test_pareto_front_keeps_only_non_dominated_points_and_all_ties():
    points = _points([(1, 0.5), (2, 0.5), (2, 0.7), (2, 0.7), (3, 0.6), (4, 0.9), (4, 0.8), (0.5, 0.2)])
    front = analyze.pareto_front(points, "flops_total")
    assert [p["id"] for p in front] == [7, 0, 2, 3, 5]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(0, 5)), min_size=1, max_size=12))
def test_pareto_front_equals_brute_force(pairs):
    points = _points(pairs)
    front = {p["id"] for p in analyze.pareto_front(points, "flops_total")}

    def dominated(p):
        return any(
            q["flops_total"] <= p["flops_total"]
            and q["accuracy"] >= p["accuracy"]
            and (q["flops_total"], q["accuracy"]) != (p["flops_total"], p["accuracy"])
            for q in points
        )

    assert front == {p["id"] for p in points if not dominated(p)}


def test_bootstrap_ci_covers_the_true_accuracy_about_95_percent():
    rng = np.random.default_rng(7)
    truth, trials = 0.7, 300
    hits = 0
    for _ in range(trials):
        low, high = bootstrap_ci(rng.random(200) < truth, n_resamples=1000)
        hits += low <= truth <= high
    assert 0.90 <= hits / trials <= 0.985


def test_scaling_fit_recovers_known_parameters():
    rng = np.random.default_rng(0)
    cost = np.logspace(11, 15, 13)
    truth = dict(e_inf=0.12, a=0.55, b=0.6)
    error = fits.saturating(cost / cost[0], **truth) + rng.normal(0, 0.004, cost.size)
    fit = fits.fit_saturating(cost, error, np.full(cost.size, 0.004))
    for key, value in truth.items():
        assert getattr(fit, key) == pytest.approx(value, abs=max(4 * getattr(fit, f"{key}_se"), 0.01))
        assert getattr(fit, f"{key}_se") < 0.1
    assert fit.rmse < 0.01
    assert fit.inverse(0.2) == pytest.approx(cost[0] * ((0.2 - fit.e_inf) / fit.a) ** (-1 / fit.b))
    assert fit.inverse(0.05) is None
    with pytest.raises(ValueError, match="at least 4 points"):
        fits.fit_saturating([1, 2, 3], [0.3, 0.2, 0.1])


def test_crossover_of_two_known_curves():
    small = fits.Fit(0.20, 0.40, 1.0, 0, 0, 0, c0=1.0, n_points=5, rmse=0, c_min=1, c_max=100)
    large = fits.Fit(0.05, 0.80, 1.0, 0, 0, 0, c0=1.0, n_points=5, rmse=0, c_min=1, c_max=100)
    # 0.20 + 0.4/C = 0.05 + 0.8/C  ->  C = 0.4 / 0.15
    (cost,) = fits.crossovers(small, large, 1.0, 100.0)
    assert cost == pytest.approx(0.4 / 0.15, rel=1e-6)


def test_flops_saved_from_measured_curves():
    result = fits.flops_saved([1, 2, 4, 8], [0.5, 0.6, 0.7, 0.8], [2, 4, 16], [0.4, 0.6, 0.7])
    assert result["target_accuracy"] == 0.7 and result["cost_b"] == 16 and result["cost_a"] == 4
    assert result["saved"] == 4.0
    assert fits.envelope_cost([1, 2, 4], [0.5, 0.6, 0.7], 0.65) == pytest.approx(math.sqrt(8))
    assert fits.envelope_cost([1, 2, 4], [0.5, 0.4, 0.45], 0.5) == 1
    assert fits.flops_saved([1, 2], [0.1, 0.2], [1], [0.9])["saved"] is None


def test_compute_optimal_picks_the_best_point_that_fits_each_budget():
    points = [
        {
            "flops_total": c,
            "accuracy": a,
            "accuracy_lo": a,
            "accuracy_hi": a,
            "curve": name,
            "policy.name": name,
            "strategy.name": "s",
            "strategy.selector": "w",
            "strategy.n": 1,
        }
        for c, a, name in [(1.5, 0.3, "a"), (5, 0.5, "b"), (20, 0.45, "c"), (90, 0.8, "d")]
    ]
    table = optimal.optimal_rows(points, "flops_total", per_decade=1, stats=None)
    assert [(row["budget"], row["curve"]) for row in table] == [(10.0, "b"), (100.0, "d")]
    assert all(row["tied_with"] == "" and not row["ties_tested"] for row in table)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    for policy in ("simulated", "sim_large"):
        for strategy, widths in (("best_of_n", [16]), ("rebase", [2, 4, 8, 16]), ("greedy", [1])):
            for n in widths:
                cfg = make_config(f"policy={policy}", f"strategy={strategy}", f"strategy.n={n}", "n_problems=40")
                run(cfg, root / f"{policy}-{strategy}-{n}")
    collect.write_collection(collect.collect(root, draws=16), root)
    return root


@pytest.mark.slow  # analysis at its default draws; test_compare_... runs it with fewer, fast
def test_analyze_writes_every_table(sweep):
    result = analyze.analyze(sweep)
    tables = result["tables"]
    for name in ("pareto", "compute_optimal", "scaling_fit", "crossover", "flops_saved"):
        assert (sweep / f"{name}.csv").exists()
    points = analyze.methods(result["points"])
    front_ids = {id(p) for p in tables["pareto"]}
    for p in tables["pareto"]:
        assert not any(q["flops_total"] <= p["flops_total"] and q["accuracy"] > p["accuracy"] for q in points)
    assert any(id(p) in front_ids for p in points)
    assert all(p["strategy.selector"] != "pass@n" for p in tables["pareto"])
    difficulties = {row["difficulty"] for row in tables["compute_optimal"]}
    assert "all" in difficulties and any(d.startswith("level") for d in difficulties)
    fitted = {row["curve"] for row in tables["scaling_fit"]}
    assert {"simulated rebase/weighted", "sim_large rebase/weighted", "simulated best_of_n/majority"} <= fitted
    for row in tables["scaling_fit"]:
        assert row["form"] == fits.FORM
        assert row["flags"] or (0 <= row["e_inf"] <= 1 and row["e_inf_lo"] <= row["e_inf"] <= row["e_inf_hi"])
    assert all(r["ratio_lo"] <= r["ratio_hi"] for r in tables["flops_saved"] if r["ratio"] is not None)
    assert tables["flops_saved"] and all(r["b"] == "strongest baseline" for r in tables["flops_saved"])
    assert {r["a"] for r in tables["flops_saved"]} == {"simulated rebase/weighted", "sim_large rebase/weighted"}
    for row in tables["verdicts"]:
        assert row["total.baseline"] is not None and row["flops_total"] >= row["total.baseline_cost"]


@pytest.mark.slow  # analysis at its default draws; test_compare_... runs it with fewer, fast
def test_other_cost_measures_write_their_own_tables(sweep):
    result = analyze.analyze(sweep, x="tokens_generated")
    assert [p.name for p in result["files"]][0] == "pareto_tokens_generated.csv"
    assert all(p.exists() for p in result["files"])
    optimal = result["tables"]["compute_optimal"]
    assert all(row["x"] == "tokens_generated" and row["budget"] > 0 for row in optimal)
    assert any(row["difficulty"].startswith("level") for row in optimal)
    with pytest.raises(ValueError, match="--x must be one of"):
        analyze.analyze(sweep, x="joules")


def test_seeds_average_into_one_point_with_their_spread():
    rows = [
        {
            "policy.name": "p",
            "strategy.name": "s",
            "strategy.selector": "w",
            "strategy.n": 4,
            "seed": seed,
            "accuracy": acc,
            "accuracy_lo": acc - 0.1,
            "accuracy_hi": acc + 0.1,
            "flops_total": 10.0 + seed,
            "flops_paper": 1.0,
            "tokens_generated": 5.0,
            "wall_s": None,
            "n_problems": 50,
        }
        for seed, acc in ((0, 0.5), (1, 0.7))
    ]
    (point,) = analyze.average_seeds(rows)
    assert point["accuracy"] == pytest.approx(0.6) and point["flops_total"] == pytest.approx(10.5)
    assert (point["n_seeds"], point["accuracy_seed_min"], point["accuracy_seed_max"]) == (2, 0.5, 0.7)
    assert point["wall_s"] is None


def test_a_width_that_follows_n_stays_on_one_curve_and_a_swept_width_makes_its_own():
    def point(policy, n, width):
        return {
            "policy.name": policy,
            "strategy.name": "beam",
            "strategy.selector": "weighted",
            "strategy.n": n,
            "strategy.beam_width": width,
            "accuracy": 0.5,
        }

    default = [point(p, n, min(4, n)) for p in ("small", "large") for n in (1, 2, 4, 8, 16)]
    curves = analyze.label_curves(default)
    assert sorted(curves) == ["large beam/weighted", "small beam/weighted"]
    assert [p["strategy.n"] for p in curves["small beam/weighted"]] == [1, 2, 4, 8, 16]

    swept = [point("small", n, width) for n in (8, 16) for width in (2, 4)]
    assert sorted(analyze.label_curves(swept)) == [
        "small beam/weighted strategy.beam_width=2",
        "small beam/weighted strategy.beam_width=4",
    ]


def test_plot_is_written_and_titled(sweep):
    (png,) = plot.plot(sweep)
    assert png == sweep / "pareto.png"
    pixels = image.imread(png)
    assert pixels.shape[0] > 500 and pixels.shape[1] > 1000
    points = analyze.load_points(sweep)
    assert (
        plot.title(points)
        == "simulated: accuracy vs flops_total, policies sim_large, simulated, PRM simulated, 40 problems"
    )
    assert plot.title(points, error=True, x="flops_paper").startswith("simulated: error rate vs flops_paper,")
    written = plot.plot(sweep, x="tokens_generated", error=True, svg=True)
    assert [p.name for p in written] == ["pareto_tokens_generated.png", "pareto_tokens_generated.svg"]
    with pytest.raises(ValueError, match="--x must be one of"):
        plot.plot(sweep, x="joules")


def test_compare_writes_its_own_table_and_keeps_flops_saved(sweep):
    default = analyze.analyze(sweep, draws=200, fit_draws=10)["tables"]["flops_saved"]
    pair = ("simulated rebase/weighted", "sim_large best_of_n/weighted")
    result = analyze.analyze(sweep, pairs=[pair], draws=200, fit_draws=10)
    assert [(r["a"], r["b"]) for r in result["tables"]["compare"]] == [pair]
    assert (sweep / "compare.csv").exists()
    saved = collect.read_table(sweep / "flops_saved.json")
    assert [(r["a"], r["b"]) for r in saved] == [(r["a"], r["b"]) for r in default] and len(saved) > 1
