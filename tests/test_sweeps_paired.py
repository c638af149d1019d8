"""Paired statistics: the reach-ratio interval's coverage, bootstrap fits with flags, and the
compute-optimal table's ties on real simulated multiruns."""

import json
import math

import numpy as np
import pytest

from infscale.experiments import stats as statistics
from infscale.experiments.analysis import analyze, collect, fits, outcomes, paired, robust
from infscale.experiments.app.run import run
from tests.conftest import make_config

NS = (1, 2, 4, 8, 16)


def _curve(rng_u, difficulty, base, step, unit, spread=0.3):
    """Nested per-problem outcomes at n = 1..16: problem i is right at n when u_i < p(n) +
    spread (0.5 - d_i); the mean over problems is p(n) = base + step log2 n. Cost per problem
    n * unit * (0.5 + d_i), mean n * unit."""
    out = []
    for n in NS:
        p = base + step * math.log2(n)
        correct = (rng_u < p + spread * (0.5 - difficulty)).astype(float)
        cost = n * unit * (0.5 + difficulty)
        out.append(
            paired.Outcomes(tuple(map(str, range(len(correct)))), ("0",), correct[None], {"flops_total": cost[None]})
        )
    return out


def _true_ratio():
    acc_a = [0.40 + 0.07 * math.log2(n) for n in NS]
    acc_b = [0.30 + 0.08 * math.log2(n) for n in NS]
    reach = fits.envelope_cost([1.5 * n for n in NS], acc_a, max(acc_b))
    return reach / (1.0 * NS[-1])


def test_reach_ratio_interval_covers_the_true_ratio_at_least_90_percent():
    truth, problems, hits, reps = _true_ratio(), 200, 0, 120
    assert 0.8 < truth < 0.9  # A reaches B's peak between its n = 8 and n = 16: 0.83x the compute
    for rep in range(reps):
        rng = np.random.default_rng(1000 + rep)
        difficulty, u_a, u_b = rng.random(problems), rng.random(problems), rng.random(problems)
        curve_a = _curve(u_a, difficulty, 0.40, 0.07, 1.5)
        curve_b = _curve(u_b, difficulty, 0.30, 0.08, 1.0)
        result = paired.reach_ratio(statistics.Resampler(curve_a[0].problems, draws=400, seed=rep), curve_a, curve_b)
        hits += result["ratio_lo"] <= truth <= result["ratio_hi"]
    assert hits / reps >= 0.90, f"coverage {hits / reps:.3f}"


def test_paired_difference_is_tighter_than_unpaired_and_seeds_resample():
    rng = np.random.default_rng(3)
    difficulty = rng.random(300)
    a = paired.Outcomes(tuple(map(str, range(300))), ("0",), (difficulty < 0.6).astype(float)[None])
    b = paired.Outcomes(a.problems, ("0",), (difficulty < 0.55).astype(float)[None])
    resampler = statistics.Resampler(a.problems, draws=1000)
    estimate, low, high = statistics.difference(resampler, a, b)
    assert estimate == pytest.approx(np.mean(difficulty < 0.6) - np.mean(difficulty < 0.55))
    assert 0 < low <= estimate <= high  # the same problems are easier for a: always >= 0 per problem
    _, low_a, high_a = statistics.mean_interval(resampler, a)
    assert high - low < (high_a - low_a) / 2
    two = paired.stack([a, paired.Outcomes(a.problems, ("1",), b.correct)])
    assert two.correct.shape == (2, 300) and statistics.mean_interval(resampler, two)[0] == pytest.approx(
        (a.mean() + b.mean()) / 2
    )
    with pytest.raises(ValueError, match="problem x was not run"):
        a.on(["x"])


def _write_curves(root, curves):
    """problems.json and matching points for synthetic curves {name: [(cost, correct array)]}."""
    entries, points = {}, []
    for name, members in curves.items():
        for n, (cost, correct) in enumerate(members, 1):
            point = f"{name}@{n}"
            ids = [str(i) for i in range(len(correct))]
            entries[point] = outcomes.entry(0, ids, correct, {"flops_total": [cost] * len(correct)}, [None] * len(ids))
            _, low, high = statistics.mean_interval(
                statistics.Resampler(ids, 200), paired.Outcomes(tuple(ids), ("0",), np.array([correct]))
            )
            points.append(
                {
                    "point": point,
                    "curve": name,
                    "policy.name": name.split()[0],
                    "strategy.name": "best_of_n",
                    "strategy.selector": "weighted",
                    "reward.name": "r",
                    "strategy.n": n,
                    "flops_total": cost,
                    "accuracy": float(np.mean(correct)),
                    "accuracy_lo": low,
                    "accuracy_hi": high,
                }
            )
    outcomes.write(entries, root)
    return points, outcomes.Stats(root, draws=400)


def _synthetic(error_of, costs, problems=600, seed=0):
    u = np.random.default_rng(seed).random(problems)
    return [(c, (u >= error_of(c)).astype(float)) for c in costs]


def test_bootstrap_fit_recovers_known_parameters_within_its_intervals(tmp_path):
    truth = dict(e_inf=0.15, a=0.6, b=0.5)
    costs = [1e12 * 2**k for k in range(8)]
    curve = _synthetic(lambda c: fits.saturating(c / costs[0], **truth), costs)
    points, stats = _write_curves(tmp_path, {"big best_of_n": curve})
    result = robust.robust_fit("big best_of_n", points, "flops_total", stats, draws=150)
    assert result.flags == [] and result.usable
    for key, value in truth.items():
        low, high = result.intervals[key]
        assert low <= value <= high, (key, low, high)
        assert high - low < 0.25
    row = robust.fit_row(result, points[0])
    assert row["flags"] == "" and row["b_lo"] <= truth["b"] <= row["b_hi"]


def test_flat_and_non_monotone_curves_are_flagged_and_get_no_crossover(tmp_path):
    costs = [1e12 * 2**k for k in range(7)]
    flat = _synthetic(lambda c: 0.4, costs, seed=1)
    bump = _synthetic(lambda c: abs(math.log2(c / costs[3])) * 0.08 + 0.2, costs, seed=2)  # down, then up
    good = _synthetic(lambda c: 0.1 + 0.5 * (c / costs[0]) ** -0.7, costs, seed=3)
    points, stats = _write_curves(tmp_path, {"flat s": flat, "bump s": bump, "good s": good})
    named = {}
    for p in points:
        named.setdefault(p["curve"], []).append(p)
    fitted = {name: robust.robust_fit(name, members, "flops_total", stats, draws=60) for name, members in named.items()}
    assert "flat" in fitted["flat s"].flags and not fitted["flat s"].usable
    assert "non_monotone" in fitted["bump s"].flags and not fitted["bump s"].usable
    assert fitted["good s"].usable
    assert robust.crossover_rows(fitted, named) == []
    few = robust.robust_fit("good s", named["good s"][:4], "flops_total", stats, draws=20)
    assert "too_few_points" in few.flags and not few.usable


def _sweep(root, runs, curves=True):
    for name, overrides in runs:
        run(make_config(*overrides, "n_problems=60"), root / name)
    collection = collect.collect(root, draws=8)
    collect.write_collection(collection, root)
    return analyze.analyze(root, curves=curves, draws=400, fit_draws=20)


@pytest.mark.slow
def test_near_identical_configurations_are_tied_and_a_real_difference_never_is(tmp_path):
    runs = [
        (f"rebase-t{t}-n{n}", ["strategy=rebase", f"strategy.balance_temperature={t}", f"strategy.n={n}"])
        for t in (0.1, 0.11)
        for n in (2, 4, 8, 16)
    ]
    result = _sweep(tmp_path / "temperature", runs)
    rows = [r for r in result["tables"]["compute_optimal"] if r["group"] == "all"]
    assert len(rows) >= 2
    for row in rows:
        other = "0.11" if "t0.1-" in row["best_point"] else "0.1"
        assert f"rebase-t{other}-n" in row["tied_with"], row
    runs = [
        (f"{prm}-n{n}", ["strategy=best_of_n", f"reward={prm}", f"strategy.n={n}"])
        for prm in ("sim_perfect", "sim_noise")
        for n in (4, 8, 16)
    ]
    # only the real (PRM-weighted) jobs: their majority-vote subsamples ignore the PRM, so are
    # rightly tied with each other
    result = _sweep(tmp_path / "prm", runs, curves=False)
    rows = [r for r in result["tables"]["compute_optimal"] if r["group"] == "all" and r["difficulty"] == "all"]
    assert rows and all(r["reward.name"] == "sim_perfect" for r in rows)
    assert all("sim_noise" not in r["tied_with"] for r in rows)
    assert all(r["accuracy_lo"] <= r["accuracy"] <= r["accuracy_hi"] for r in rows)
    # every curve here is a baseline (best-of-N), so the default "compute to reach the strongest
    # baseline" table is empty; a named pair still gets its paired interval
    assert json.loads((tmp_path / "prm" / "flops_saved.json").read_text()) == []
    perfect, noise = sorted({p["curve"] for p in result["points"]}, key=lambda c: "sim_noise" in c)
    compared = analyze.analyze(tmp_path / "prm", curves=False, pairs=[(noise, perfect)], draws=400, fit_draws=20)
    assert compared["tables"]["compare"] and all(r["ratio_lo"] is not None for r in compared["tables"]["compare"])


def test_seeds_are_a_level_their_spread_widens_the_interval(tmp_path):
    ids = [str(i) for i in range(200)]
    rng = np.random.default_rng(5)
    entries = {
        f"job-seed{s}": outcomes.entry(s, ids, (rng.random(200) < p).astype(float).tolist(), {}, [None] * 200)
        for s, p in ((0, 0.3), (1, 0.7))
    }
    outcomes.write(entries, tmp_path)
    stats = outcomes.Stats(tmp_path, draws=1000)
    rows = [
        {
            "point": f"job-seed{s}",
            "policy.name": "p",
            "strategy.name": "s",
            "strategy.n": 4,
            "seed": s,
            "accuracy": float(np.mean(entries[f"job-seed{s}"]["correct"])),
            "accuracy_lo": 0.0,
            "accuracy_hi": 1.0,
            "flops_total": 1.0,
            "flops_paper": 1.0,
            "tokens_generated": 1.0,
            "wall_s": None,
            "n_problems": 200,
        }
        for s in (0, 1)
    ]
    (point,) = analyze.average_seeds(rows)
    assert point["points"] == "job-seed0;job-seed1" and point["accuracy_seed_sd"] > 0.25
    analyze.seed_intervals([point], stats)
    single = statistics.mean_interval(stats.resampler(tuple(ids)), stats.table["job-seed0"])
    assert single[2] - single[1] < 0.15  # problems alone: about +-0.065
    assert point["accuracy_lo"] < 0.4 and point["accuracy_hi"] > 0.6  # seeds resampled too


def test_optimal_size_fit_recovers_a_power_law_and_refuses_two_sizes():
    from infscale.experiments.analysis import optimal

    budgets = [1e10, 1e11, 1e12, 1e13]
    rows = [{"budget": c, "params": 3e3 * c**0.5, "tied_sizes": ""} for c in budgets]
    fit = optimal.size_fit(rows)
    assert fit["flags"] == "" and fit["slope"] == pytest.approx(0.5) and fit["n_sizes"] == 4
    two = [{**r, "params": 1e8 if r["budget"] < 1e12 else 1e9} for r in rows]
    assert optimal.size_fit(two)["flags"] == "too_few_points" and optimal.size_fit(two)["slope"] is None
    tied = [{**r, "tied_sizes": "other"} for r in rows]  # a budget with a tied size says nothing
    assert optimal.size_fit(tied)["n_points"] == 0
