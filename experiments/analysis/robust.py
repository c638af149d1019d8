"""Scaling fits that say when they cannot be trusted.

Each curve's error rate is fitted with `fits.FORM`; the parameters' intervals come from a
bootstrap over problems (and seeds) that refits every replicate, so the nesting of subsampled
widths (n = 4 holds the samples of n = 2) is respected: the points of one replicate move
together. A fit carries flags (`;`-separated in scaling_fit.csv):

  too_few_points  fewer than MIN_POINTS distinct costs for 3 parameters (or under 4: no fit);
  flat            the error at the largest cost is not significantly below the first (paired);
  non_monotone    some point's error is significantly above that of a cheaper point (paired);
  degenerate      a parameter sits at a bound, its standard error is not finite, the replicate
                  interval of a or b runs into a bound, or over 10% of the refits fail.

Flagged fits are kept in the table but are not used for crossovers or extrapolation, and
plots draw them dashed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infscale.experiments.analysis import fits
from infscale.experiments.analysis.outcomes import Stats
from infscale.experiments.stats import Resampler, difference, interval

MIN_POINTS = 5
FIT_DRAWS = 200
PARAMS = ("e_inf", "a", "b")
BOUNDS = {"e_inf": (0.0, 1.0), "a": (0.0, 10.0), "b": (0.0, 10.0)}
AT_BOUND = 1e-3
MAX_FAILED = 0.10


@dataclass
class RobustFit:
    curve: str
    x: str
    n_points: int
    fit: fits.Fit | None
    flags: list[str]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    replicates: list[fits.Fit | None] = field(default_factory=list, repr=False)
    failed_share: float = 0.0

    @property
    def usable(self) -> bool:
        return self.fit is not None and not self.flags


def _sigma(members: list[dict[str, Any]]) -> np.ndarray:
    return np.array([(p["accuracy_hi"] - p["accuracy_lo"]) / 2 / 1.96 for p in members])


def _try_fit(cost: np.ndarray, error: np.ndarray, sigma: np.ndarray) -> fits.Fit | None:
    try:
        return fits.fit_saturating(cost, error, sigma)
    except (ValueError, RuntimeError):
        return None


def _at_bound(fit: fits.Fit) -> bool:
    for name in PARAMS:
        low, high = BOUNDS[name]
        value = getattr(fit, name)
        if value <= low + AT_BOUND * (high - low) or value >= high - AT_BOUND * (high - low):
            return True
    return not all(math.isfinite(getattr(fit, f"{n}_se")) for n in PARAMS)


def shape_flags(members: list[dict[str, Any]], stats: Stats, resampler: Resampler) -> list[str]:
    """`flat` and `non_monotone`, from paired differences of the points' accuracies."""
    outcomes = [stats.outcomes(p) for p in members]
    flags = []
    if difference(resampler, outcomes[-1], outcomes[0])[1] <= 0:  # accuracy gain last - first
        flags.append("flat")
    for j in range(1, len(members)):
        best = max(range(j), key=lambda i: members[i]["accuracy"])
        if difference(resampler, outcomes[best], outcomes[j])[1] > 0:
            flags.append("non_monotone")
            break
    return flags


def robust_fit(
    name: str, members: list[dict[str, Any]], x: str, stats: Stats | None, draws: int = FIT_DRAWS
) -> RobustFit:
    """Fit one curve (its points sorted by cost), flag it, and bootstrap its parameters."""
    members = sorted((p for p in members if p.get(x) and p[x] > 0), key=lambda p: p[x])
    distinct = len({p[x] for p in members})
    flags = [] if distinct >= MIN_POINTS else ["too_few_points"]
    if len(members) < 4 or distinct < 2:
        return RobustFit(name, x, len(members), None, flags or ["too_few_points"])
    cost = np.array([p[x] for p in members])
    sigma = _sigma(members)
    fit = _try_fit(cost, 1 - np.array([p["accuracy"] for p in members]), sigma)
    if fit is None:
        return RobustFit(name, x, len(members), None, [*flags, "degenerate"])
    result = RobustFit(name, x, len(members), fit, flags)
    if stats is not None:
        problems = _common_problems(members, stats)
        resampler = stats.resampler(problems)
        result.flags += shape_flags(members, stats, resampler)
        accuracy = np.column_stack([resampler.replicates(stats.outcomes(p))[:draws] for p in members])
        if all(x in stats.outcomes(p).costs for p in members):
            costs = np.column_stack([resampler.replicates(stats.outcomes(p), x)[:draws] for p in members])
        else:
            costs = np.tile(cost, (len(accuracy), 1))
        result.replicates = [_try_fit(costs[r], 1 - accuracy[r], sigma) for r in range(len(accuracy))]
        done = [f for f in result.replicates if f is not None]
        result.failed_share = 1 - len(done) / len(result.replicates)
        if done:
            result.intervals = {k: interval(np.array([getattr(f, k) for f in done])) for k in PARAMS}
    if _at_bound(fit) or result.failed_share > MAX_FAILED or _interval_at_bound(result):
        result.flags.append("degenerate")
    return result


def _interval_at_bound(result: RobustFit) -> bool:
    for name in ("a", "b"):
        if name in result.intervals:
            low, high = BOUNDS[name]
            if result.intervals[name][1] >= high - AT_BOUND * (high - low):
                return True
    return False


def _common_problems(members: list[dict[str, Any]], stats: Stats) -> tuple[str, ...]:
    sets = [stats.outcomes(p).problems for p in members]
    shared = set(sets[0]).intersection(*sets[1:])
    return tuple(pid for pid in sets[0] if pid in shared)


def fit_row(result: RobustFit, first: dict[str, Any]) -> dict[str, Any]:
    row = {
        "curve": result.curve,
        "policy.name": first["policy.name"],
        "strategy.name": first["strategy.name"],
        "strategy.selector": first.get("strategy.selector"),
        "x": result.x,
        "form": fits.FORM,
        "flags": ";".join(result.flags),
        "n_points": result.n_points,
    }
    fit = result.fit
    for name in PARAMS:
        row[name] = getattr(fit, name) if fit else None
        row[f"{name}_se"] = getattr(fit, f"{name}_se") if fit else None
        row[f"{name}_lo"], row[f"{name}_hi"] = result.intervals.get(name, (None, None))
    row.update(
        c0=fit.c0 if fit else None,
        rmse=fit.rmse if fit else None,
        c_min=fit.c_min if fit else None,
        c_max=fit.c_max if fit else None,
        refits=len(result.replicates),
        refits_failed=result.failed_share,
    )
    return row


def crossover_rows(fitted: dict[str, RobustFit], curves: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Pairs of usable fits that differ only in the policy: where one overtakes the other, with
    the interval of that compute over the replicates that cross (refits of both curves on the
    same resampled problems) and the share of replicates that cross at all."""
    rows, names = [], sorted(n for n, f in fitted.items() if f.usable)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = curves[first][0], curves[second][0]
            same = all(a.get(k) == b.get(k) for k in ("strategy.name", "strategy.selector", "reward.name"))
            if not same or a["policy.name"] == b["policy.name"]:
                continue
            fa, fb = fitted[first], fitted[second]
            low, high = max(fa.fit.c_min, fb.fit.c_min), min(fa.fit.c_max, fb.fit.c_max)
            for cost in fits.crossovers(fa.fit, fb.fit, low, high):
                after = first if fa.fit.predict(cost * 1.01) < fb.fit.predict(cost * 1.01) else second
                near = _replicate_crossovers(fa, fb, low, high, cost)
                rows.append(
                    {
                        "first": first,
                        "second": second,
                        "x": fa.x,
                        "crossover": cost,
                        "crossover_lo": interval(near)[0] if near.size else None,
                        "crossover_hi": interval(near)[1] if near.size else None,
                        "crossing_share": near.size / max(len(fa.replicates), 1),
                        "better_above": after,
                        "error_at_crossover": float(fa.fit.predict(cost)),
                    }
                )
    return rows


def _replicate_crossovers(fa: RobustFit, fb: RobustFit, low: float, high: float, cost: float) -> np.ndarray:
    found = []
    for ra, rb in zip(fa.replicates, fb.replicates):
        if ra is None or rb is None:
            continue
        crossings = fits.crossovers(ra, rb, low, high)
        if crossings:
            found.append(min(crossings, key=lambda c: abs(math.log(c / cost))))
    return np.array(found)
