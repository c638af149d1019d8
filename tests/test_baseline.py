"""The strongest baseline at no more compute (experiments/analysis/baseline.py), on constructed
per-problem outcomes: which baseline it picks, that it never picks one over the budget, and
that a verdict needs the candidate to beat every baseline that cheap, paired."""

from __future__ import annotations

import numpy as np
import pytest

from infscale.experiments.analysis import baseline, optimal, outcomes
from infscale.experiments.analysis.saved import STRONGEST, flops_saved_rows

PROBLEMS = [f"p{i}" for i in range(100)]


def point(name: str, strategy: str, selector: str | None, n: int, total: float, paper: float, correct) -> dict:
    policy = name.split()[0]
    curve = f"{policy} {strategy}" + (f"/{selector}" if selector and strategy != "greedy" else "")
    return {
        "point": name,
        "policy.name": policy,
        "reward.name": "prm",
        "strategy.name": strategy,
        "strategy.selector": selector,
        "strategy.n": n,
        "curve": curve,
        "flops_total": total,
        "flops_paper": paper,
        "accuracy": float(np.mean(correct)),
        "correct": np.asarray(correct, dtype=float),
    }


def stats_of(tmp_path, points) -> outcomes.Stats:
    entries = {
        p["point"]: outcomes.entry(
            0,
            PROBLEMS,
            p["correct"].tolist(),
            {"flops_total": [p["flops_total"]] * 100, "flops_paper": [p["flops_paper"]] * 100},
            [None] * 100,
        )
        for p in points
    }
    outcomes.write(entries, tmp_path)
    return outcomes.Stats(tmp_path, draws=400)


def first(k: int) -> np.ndarray:
    """Correct on the first k of the 100 problems."""
    return (np.arange(100) < k).astype(float)


@pytest.fixture
def sweep():
    """Greedy of a large policy strongest when cheap; the small policy's voting strongest with more."""
    return [
        point("large greedy", "greedy", None, 1, 10.0, 10.0, first(80)),
        point("large majority@1", "best_of_n", "majority", 1, 12.0, 10.0, first(70)),
        point("small majority@2", "best_of_n", "majority", 2, 4.0, 2.0, first(50)),
        point("small majority@8", "best_of_n", "majority", 8, 16.0, 8.0, first(85)),
        point("small weighted@8", "best_of_n", "weighted", 8, 30.0, 8.0, first(90)),
        point("small best@8", "best_of_n", "best", 8, 30.0, 8.0, first(60)),
        point("small pass@8", "best_of_n", "pass@n", 8, 16.0, 8.0, first(99)),
        point("small rebase@4", "rebase", "weighted", 4, 20.0, 4.0, first(88)),
    ]


def test_greedy_is_picked_where_it_is_strongest(sweep):
    best = baseline.strongest(sweep, "flops_total", 12.0)
    assert baseline.label(best) == "large greedy" and best["accuracy"] == 0.80


def test_majority_or_weighted_is_picked_where_it_wins(sweep):
    assert baseline.label(baseline.strongest(sweep, "flops_total", 16.0)) == "small best_of_n/majority@8"
    assert baseline.label(baseline.strongest(sweep, "flops_total", 30.0)) == "small best_of_n/weighted@8"
    # in paper FLOPs the weighted vote costs what majority does, so it wins from 8 up
    assert baseline.label(baseline.strongest(sweep, "flops_paper", 8.0)) == "small best_of_n/weighted@8"
    assert baseline.label(baseline.strongest(sweep, "flops_paper", 7.9)) == "small best_of_n/majority@2"


def test_an_allocator_run_is_a_candidate_not_a_baseline(sweep):
    allocated = {**sweep[3], "allocator.name": "probe_then_allocate", "accuracy": 1.0}
    assert baseline.is_baseline(sweep[3]) and not baseline.is_baseline(allocated)
    assert baseline.label(baseline.strongest([*sweep, allocated], "flops_total", 16.0)) == "small best_of_n/majority@8"


def test_no_baseline_over_the_budget_search_or_coverage_ever_picked(sweep):
    for x in baseline.CONVENTIONS:
        for budget in np.linspace(1.0, 40.0, 79):
            best = baseline.strongest(sweep, x, budget)
            inside = [p for p in sweep if baseline.is_baseline(p) and p[x] <= budget]
            if not inside:
                assert best is None
                continue
            assert best[x] <= budget and best["accuracy"] == max(p["accuracy"] for p in inside)
            assert best["strategy.name"] != "rebase" and best["strategy.selector"] != "pass@n"
    assert baseline.strongest(sweep, "flops_total", 3.9) is None


def test_a_candidate_is_set_against_the_baseline_of_its_own_cost_in_each_convention(sweep, tmp_path):
    stats = stats_of(tmp_path, sweep)
    rebase = sweep[-1]
    row = baseline.columns(rebase, sweep, {"flops_total": None, "flops_paper": None}, stats)
    # total FLOPs 20: majority@8 (0.85, cost 16) is the strongest that cheap; the search is ahead by 3 points
    assert row["total.baseline"] == "small best_of_n/majority@8" and row["total.vs_baseline"] == pytest.approx(0.03)
    assert row["total.vs_baseline_lo"] > 0 and row["total.beats_baseline"] is True
    # paper FLOPs 4: only majority@2 (0.50) is that cheap
    assert row["paper.baseline"] == "small best_of_n/majority@2" and row["paper.vs_baseline"] == pytest.approx(0.38)
    assert row["paper.beats_baseline"] is True and row["paper.baselines"] == 1


def test_a_verdict_needs_every_baseline_beaten_not_only_the_top_one(tmp_path):
    rng = np.random.default_rng(3)
    top = first(70)
    near = (rng.random(100) < 0.69).astype(float)  # a near-tie, independent of the candidate
    candidate = top.copy()
    candidate[70:78] = 1.0  # the top baseline plus 8 problems: clearly above it, paired
    points = [
        point("p majority@4", "best_of_n", "majority", 4, 4.0, 4.0, top),
        point("p weighted@4", "best_of_n", "weighted", 4, 4.0, 4.0, near),
        point("p beam@4", "beam", "weighted", 4, 4.0, 4.0, candidate),
    ]
    stats = stats_of(tmp_path, points)
    result = baseline.verdict(points[2], points, "flops_total", stats=stats)
    assert result["baseline"] == "p best_of_n/majority@4" and result["vs_baseline_lo"] > 0
    assert result["beats_baseline"] is False and result["binding"] == "p best_of_n/weighted@4"
    columns = {f"total.{k}": v for k, v in result.items()}
    assert baseline.outcome(columns, "total") == "above it, but not separated from p best_of_n/weighted@4"


def test_compute_optimal_rows_carry_the_verdict_against_the_strongest_baseline(sweep, tmp_path):
    stats = stats_of(tmp_path, sweep)
    rows = optimal.optimal_rows(
        [{k: v for k, v in p.items() if k != "correct"} for p in sweep], "flops_paper", 1, stats
    )
    at = {round(r["budget"]): r for r in rows}
    assert at[10]["best"] == "small best_of_n/weighted n=8"  # the winner is a baseline: it cannot beat itself
    assert at[10]["paper.baseline"] == "small best_of_n/weighted@8" and at[10]["paper.vs_baseline"] == 0
    assert at[10]["paper.beats_baseline"] is False and at[10]["paper.itself"] is True
    assert baseline.outcome(at[10], "paper") == "the strongest baseline itself"
    # the other convention at the winner's own cost (30 total FLOPs)
    assert at[10]["total.baseline"] == "small best_of_n/weighted@8"


def test_compute_to_reach_is_against_the_pooled_baselines(sweep, tmp_path):
    stats = stats_of(tmp_path, sweep)
    curves: dict[str, list] = {}
    for p in sweep:
        curves.setdefault(p["curve"], []).append({k: v for k, v in p.items() if k != "correct"})
    rows = flops_saved_rows(curves, "flops_paper", None, stats)
    assert [(r["a"], r["b"]) for r in rows] == [("small rebase/weighted", STRONGEST)]
    (row,) = rows
    # the best baseline anywhere is weighted@8 (0.90, 8 paper FLOPs); the search never reaches it
    assert row["b_best"] == "small best_of_n/weighted@8" and row["target_accuracy"] == pytest.approx(0.90)
    assert row["ratio"] is None
