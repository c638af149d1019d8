"""Compute-optimal tables with ties: per budget the winner and every configuration that is not
significantly worse (paired bootstrap over problems and seeds), and the winner against the
strongest baseline at no more compute (experiments/analysis/baseline.py): in the table's
convention at the row's budget, in the other FLOP convention at the winner's own cost there.

Per budget B (log-spaced levels) each curve offers its most accurate point whose mean cost
fits B; the most accurate of those wins. Another curve is tied with the winner when the paired
95% interval of (winner - its point) reaches 0; its point may be any whose cost is not
significantly above B (the lower end of its cost interval fits), since whether a mean cost fits
a budget is itself measured with noise. Rows exist over all problems, per difficulty level
(the problems of that level) and per model size (the points of one policy); the compute-optimal
model size per budget is the policy of the overall winner, with the sizes tied with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from infscale.experiments.analysis import baseline
from infscale.experiments.analysis.curves import COVERAGE
from infscale.experiments.analysis.outcomes import Stats, members_of
from infscale.experiments.stats import difference, mean_interval

IDENTITY = ("policy.name", "reward.name", "strategy.name", "strategy.selector", "strategy.n")


def methods(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in points if p.get("strategy.selector") != COVERAGE]


def budget_levels(costs: list[float], per_decade: int) -> list[float]:
    """Log-spaced compute levels (`per_decade` per factor of 10) covering the costs."""
    low, high = math.log10(min(costs)), math.log10(max(costs))
    first, last = math.floor(low * per_decade), math.ceil(high * per_decade)
    return [10 ** (k / per_decade) for k in range(first, last + 1)]


def point_name(point: dict[str, Any]) -> str:
    """What tied_with lists: the job folder(s) of the point (a subsampled width: `job#selector@n`)."""
    if not any(point.get(k) for k in ("points", "point", "job")):  # a point not read from a sweep
        return f"{point['curve']} n={point['strategy.n']}"
    return ";".join(members_of(point))


def model_params(point: dict[str, Any]) -> float | None:
    """The policy's non-embedding parameters, read back from the ledger: flops_paper = 2 N D."""
    paper, tokens = point.get("flops_paper"), point.get("tokens_generated")
    return paper / (2 * tokens) if paper and tokens else None


def _curves(points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        grouped.setdefault(point["curve"], []).append(point)
    return grouped


def _most_accurate(members: Sequence[dict[str, Any]], fits: Any) -> dict[str, Any] | None:
    inside = [p for p in members if fits(p)]
    return max(inside, key=lambda p: (p["accuracy"], -p["_cost"])) if inside else None


def optimal_rows(
    points: list[dict[str, Any]],
    x: str,
    per_decade: int,
    stats: Stats | None,
    difficulty: str = "all",
    group: str = "all",
) -> list[dict[str, Any]]:
    """The compute-optimal table of `points` (one difficulty level, one group of curves)."""
    usable = [{**p, "_cost": p[x]} for p in methods(points) if p.get(x) is not None]
    if not usable:
        return []
    curves, table = _curves(usable), []
    for budget in budget_levels([p[x] for p in usable], per_decade):
        offers = [p for p in (_most_accurate(m, lambda p, b=budget: p[x] <= b) for m in curves.values()) if p]
        if not offers:
            continue
        best = max(offers, key=lambda p: (p["accuracy"], -p[x]))
        row = {
            "difficulty": difficulty,
            "group": group,
            "budget": budget,
            "x": x,
            "best": f"{best['curve']} n={best['strategy.n']}",
            "best_point": point_name(best),
            **{k: best.get(k) for k in IDENTITY},
            "curve": best["curve"],
            x: best[x],
            "accuracy": best["accuracy"],
            "accuracy_lo": best.get("accuracy_lo"),
            "accuracy_hi": best.get("accuracy_hi"),
            "n_seeds": best.get("n_seeds", 1),
            "params": model_params(best),
        }
        row.update(_ties(best, curves, x, budget, stats, difficulty))
        if group == "all":
            budgets = {x: budget, **{c: None for c in baseline.CONVENTIONS if c != x}}
            row.update(baseline.columns(best, usable, budgets, stats, difficulty))
        table.append(row)
    return table


def _ties(
    best: dict[str, Any],
    curves: dict[str, list[dict[str, Any]]],
    x: str,
    budget: float,
    stats: Stats | None,
    level: str,
) -> dict[str, Any]:
    if stats is None:
        return {"tied_with": "", "tied_curves": "", "n_problems": best.get("n_problems"), "ties_tested": False}
    problems = stats.problems(best, level)
    resampler = stats.resampler(problems)
    winner = stats.outcomes(best)
    accuracy, low, high = mean_interval(resampler, winner)
    tied = []
    for name, members in curves.items():
        if name == best["curve"]:
            continue

        def near_budget(point: dict[str, Any]) -> bool:
            if point[x] <= budget:
                return True
            shared = stats.shared(resampler, point)
            if shared is None or x not in stats.outcomes(point).costs:
                return False
            return mean_interval(shared, stats.outcomes(point), x)[1] <= budget

        offer = _most_accurate(members, near_budget)
        shared = None if offer is None else stats.shared(resampler, offer)
        if shared is None:
            continue
        _, diff_low, _ = difference(shared, winner, stats.outcomes(offer))
        if diff_low <= 0:
            tied.append(offer)
    tied.sort(key=lambda p: -p["accuracy"])
    return {
        "accuracy": accuracy,
        "accuracy_lo": low,
        "accuracy_hi": high,
        "tied_with": ";".join(point_name(p) for p in tied),
        "tied_curves": ";".join(f"{p['curve']} n={p['strategy.n']}" for p in tied),
        "n_problems": len(problems),
        "ties_tested": True,
    }


def per_model_size(points: list[dict[str, Any]], x: str, per_decade: int, stats: Stats | None) -> list[dict[str, Any]]:
    rows = []
    for policy in sorted({p["policy.name"] for p in points}):
        mine = [p for p in points if p["policy.name"] == policy]
        rows += optimal_rows(mine, x, per_decade, stats, group=f"policy={policy}")
    return rows


def optimal_size(overall: list[dict[str, Any]], points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per budget: the policy (model size) of the winner and the sizes tied with it."""
    size = {p["policy.name"]: model_params(p) for p in points}
    by_point = {point_name(p): p["policy.name"] for p in points}
    rows = []
    for row in overall:
        if row["difficulty"] != "all" or row["group"] != "all":
            continue
        tied = sorted({by_point[t] for t in row["tied_with"].split(";") if t in by_point} - {row["policy.name"]})
        rows.append(
            {
                "budget": row["budget"],
                "x": row["x"],
                "policy.name": row["policy.name"],
                "params": size.get(row["policy.name"]),
                "accuracy": row["accuracy"],
                "accuracy_lo": row["accuracy_lo"],
                "accuracy_hi": row["accuracy_hi"],
                "tied_sizes": ";".join(tied),
            }
        )
    return rows


def size_fit(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """log10 N_opt = intercept + slope * log10 budget (Wu et al. fit N_opt ~ C^slope), over the
    budgets whose winner is not tied with another size. Flagged `too_few_points` below 3 such
    budgets or 3 distinct sizes (with two sizes the "fit" only says where one overtakes the other)."""
    clear = [r for r in rows if r["params"] and not r["tied_sizes"]]
    sizes = {r["params"] for r in clear}
    flags = [] if len(clear) >= 3 and len(sizes) >= 3 else ["too_few_points"]
    if flags:
        return {
            "slope": None,
            "intercept": None,
            "n_points": len(clear),
            "n_sizes": len(sizes),
            "flags": "too_few_points",
        }
    slope, intercept = np.polyfit(np.log10([r["budget"] for r in clear]), np.log10([r["params"] for r in clear]), 1)
    return {
        "slope": float(slope),
        "intercept": float(intercept),
        "n_points": len(clear),
        "n_sizes": len(sizes),
        "flags": "",
    }
