"""The strongest baseline at no more compute, and every verdict made against it.

A baseline is what any reader can run without a search strategy: greedy decoding, majority@n,
PRM-weighted@n and PRM best-of-n, of every policy (and every reward) in the sweep; the
subsampled best-of-N curves give every width n from one run (experiments/analysis/curves.py).
At a budget B in a convention x (`flops_total`, `flops_paper`, ...) the strongest baseline is
the one with the highest point accuracy among the baselines whose mean cost in x is at most B;
equal accuracies go to the cheaper one, then to the name.

A verdict "A beats the baselines at no more compute" is honest only if A beats each of them,
not just the one that happens to be highest on these problems: near-ties are common (the same
policy's majority@8 and weighted@8). So the verdict reports the paired difference against the
strongest baseline, and `beats` holds only when the paired 95% interval of A minus every
baseline within the budget lies above 0; `binding` names the baseline whose interval comes
closest to 0 (the strongest, unless a near-tie of it is harder to beat). All intervals come
from one shared `stats.Resampler` per problem set, so every difference is paired.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from infscale.experiments.analysis.curves import COVERAGE
from infscale.experiments.analysis.outcomes import Stats
from infscale.experiments.stats import difference

SELECTORS = ("majority", "weighted", "best")
CONVENTIONS = ("flops_total", "flops_paper")
SHORT = {"flops_total": "total", "flops_paper": "paper"}


def is_baseline(point: dict[str, Any]) -> bool:
    """Greedy decoding, or best-of-N with majority, PRM-weighted or PRM best-of-n selection, at
    a fixed width (a run whose allocator spreads the samples over problems is a candidate)."""
    if point.get("allocator.name") not in (None, "none"):
        return False
    if point.get("strategy.name") == "greedy":
        return True
    return point.get("strategy.name") == "best_of_n" and point.get("strategy.selector") in SELECTORS


def label(point: dict[str, Any]) -> str:
    """A point as a reader names it: `toy_sum_m greedy`, `toy_sum_m best_of_n/majority@8`."""
    if point.get("strategy.name") == "greedy":
        return str(point["curve"])
    return f"{point['curve']}@{point['strategy.n']}"


def within(points: Sequence[dict[str, Any]], x: str, budget: float) -> list[dict[str, Any]]:
    """The baselines whose mean cost in `x` is known and at most `budget`."""
    return [p for p in points if is_baseline(p) and p.get(x) is not None and p[x] <= budget]


def strongest(points: Sequence[dict[str, Any]], x: str, budget: float) -> dict[str, Any] | None:
    """The most accurate baseline costing at most `budget` in `x` (cheaper, then name, on ties)."""
    inside = within(points, x, budget)
    if not inside:
        return None
    return min(inside, key=lambda p: (-p["accuracy"], p[x], label(p)))


def verdict(
    candidate: dict[str, Any],
    points: Sequence[dict[str, Any]],
    x: str,
    budget: float | None = None,
    stats: Stats | None = None,
    level: str = "all",
) -> dict[str, Any]:
    """`candidate` against the strongest baseline costing at most `budget` in `x` (default: the
    candidate's own cost). Without per-problem outcomes (`stats` None) the difference is a point
    estimate and `beats` is None: no verdict without an interval."""
    budget = candidate.get(x) if budget is None else budget
    empty = {"baseline": None, "baseline_accuracy": None, "vs_baseline": None, "vs_baseline_lo": None}
    empty.update(vs_baseline_hi=None, beats_baseline=None, binding=None, baselines=0, budget=budget, itself=False)
    if budget is None:
        return empty
    inside = within(points, x, budget)
    best = strongest(points, x, budget)
    if best is None:
        return empty
    if is_baseline(candidate) and candidate[x] <= budget and candidate["accuracy"] >= best["accuracy"]:
        best = candidate  # a baseline winner tied with the strongest is that strongest baseline
    row = {
        **empty,
        "baseline": label(best),
        "baseline_accuracy": best["accuracy"],
        "vs_baseline": candidate["accuracy"] - best["accuracy"],
        "baselines": len(inside),
        "baseline_cost": best[x],
        "itself": is_baseline(candidate) and label(candidate) == label(best),
    }
    if stats is None:
        return row
    problems = stats.problems(candidate, level)
    resampler = stats.resampler(problems)
    mine = stats.outcomes(candidate)
    against = {}
    for point in inside:  # each on the problems both ran (a job may have run fewer: Stats.shared)
        shared = stats.shared(resampler, candidate, point)
        if shared is not None:
            against[label(point)] = difference(shared, mine, stats.outcomes(point))
    if label(best) not in against:
        return row
    binding = min(against, key=lambda name: (against[name][1], name))
    row.update(
        zip(("vs_baseline", "vs_baseline_lo", "vs_baseline_hi"), against[label(best)]),
        beats_baseline=all(low > 0 for _, low, _ in against.values()),
        binding=binding,
    )
    return row


def columns(
    candidate: dict[str, Any],
    points: Sequence[dict[str, Any]],
    budgets: dict[str, float | None],
    stats: Stats | None,
    level: str = "all",
) -> dict[str, Any]:
    """`verdict` in each convention of `budgets` (None: the candidate's own cost there), as
    flat columns `<total|paper>.baseline`, `<total|paper>.vs_baseline`, ..."""
    out: dict[str, Any] = {}
    for x, budget in budgets.items():
        result = verdict(candidate, points, x, budget, stats, level)
        out.update({f"{SHORT.get(x, x)}.{key}": value for key, value in result.items()})
    return out


def verdict_rows(
    points: Sequence[dict[str, Any]], x: str, stats: Stats | None, level: str = "all"
) -> list[dict[str, Any]]:
    """Every configuration that is not a baseline (tree searches, allocators, ...) against the
    strongest baseline at no more compute than its own, in `x` and in the other FLOP
    convention: the verdicts.csv table."""
    others = [c for c in CONVENTIONS if c != x]
    rows = []
    for point in points:
        if is_baseline(point) or point.get("strategy.selector") == COVERAGE or point.get(x) is None:
            continue
        rows.append(
            {
                "x": x,
                "candidate": label(point),
                "point": point.get("points") or point.get("point"),
                "accuracy": point["accuracy"],
                "accuracy_lo": point.get("accuracy_lo"),
                "accuracy_hi": point.get("accuracy_hi"),
                **{c: point.get(c) for c in CONVENTIONS},
                **columns(point, points, {x: None, **{c: None for c in others}}, stats, level),
            }
        )
    return rows


def phrase(row: dict[str, Any], x: str) -> str:
    """The verdict columns of convention `x` in `row` as words, e.g. "vs toy_sum_m greedy 0.960
    at no more flops_paper: -0.050 [-0.095, -0.010], below it"."""
    prefix = SHORT.get(x, x)
    name = row.get(f"{prefix}.baseline")
    if name is None:
        return f"no baseline at no more {x}"
    text = f"vs {name} {row[f'{prefix}.baseline_accuracy']:.3f} at no more {x}: {row[f'{prefix}.vs_baseline']:+.3f}"
    low, high = row.get(f"{prefix}.vs_baseline_lo"), row.get(f"{prefix}.vs_baseline_hi")
    if low is None:
        return text + " (no per-problem outcomes: no interval)"
    return f"{text} [{low:+.3f}, {high:+.3f}], {outcome(row, prefix)}"


def outcome(row: dict[str, Any], prefix: str, name: Callable[[str], str] = str) -> str:
    """'beats every baseline', 'below it', 'not separated', 'above it, but not separated from
    <a near-tie>' or 'the strongest baseline itself' (from the verdict columns); `name` writes a
    baseline's label."""
    beats, high = row.get(f"{prefix}.beats_baseline"), row.get(f"{prefix}.vs_baseline_hi")
    if row.get(f"{prefix}.itself") in (True, "True"):
        return "the strongest baseline itself"
    if beats in (True, "True"):
        return "beats every baseline"
    if high is not None and high != "" and float(high) < 0:
        return "below it"
    binding, low = row.get(f"{prefix}.binding"), row.get(f"{prefix}.vs_baseline_lo")
    if not binding or binding == row.get(f"{prefix}.baseline") or beats is None:
        return "not separated"
    if low is not None and low != "" and float(low) > 0:
        return f"above it, but not separated from {name(binding)}"
    return f"not separated (nor from {name(binding)})"
