""" "Compute to reach": A reaches B's best accuracy at r x the compute, with a paired interval.

By default B is the strongest baseline (experiments/analysis/baseline.py): the pool of greedy,
majority@n, PRM-weighted@n and PRM best-of-n points of every policy. Its best accuracy is the
best any baseline reaches at any compute, its cost the cheapest baseline point that reaches it
(both chosen again inside every bootstrap replicate, `paired.reach_ratio`), so a saving is
never claimed against a weak baseline while a stronger one is cheaper. Named pairs
(`infscale-analyze --compare 'A vs B'`, B may be `strongest baseline`) go to compare.csv.
"""

from __future__ import annotations

import math
from typing import Any

from infscale.experiments.analysis import baseline, fits, paired
from infscale.experiments.analysis.curves import COVERAGE
from infscale.experiments.analysis.outcomes import COST_METRICS, Stats

STRONGEST = "strongest baseline"


def flops_saved_rows(
    curves: dict[str, list[dict[str, Any]]], x: str, pairs: list[tuple[str, str]] | None, stats: Stats | None
) -> list[dict[str, Any]]:
    """ "A reaches B's best accuracy at r x the compute", paired over problems and seeds.
    Default pairs: every curve that is not a baseline against the strongest baseline."""
    names = [n for n in curves if not n.endswith(f"/{COVERAGE}")]
    pooled = {**curves, STRONGEST: [p for n in names for p in curves[n] if baseline.is_baseline(p)]}
    if pairs is None:
        pairs = [(a, STRONGEST) for a in names if not all(baseline.is_baseline(p) for p in curves[a])]
    rows = []
    for a, b in pairs:
        for name in (a, b):
            if name not in pooled:
                raise ValueError(f"--compare: no curve named '{name}' (curves: {', '.join(sorted(pooled))})")
        pa = [p for p in pooled[a] if p.get(x) is not None]
        pb = [p for p in pooled[b] if p.get(x) is not None]
        if not pa or not pb:
            continue
        top = max(pb, key=lambda p: (p["accuracy"], -p[x]))
        rows.append({"a": a, "b": b, "x": x, "b_best": baseline.label(top), **_reach(pa, pb, x, stats)})
    return rows


def _reach(pa: list[dict[str, Any]], pb: list[dict[str, Any]], x: str, stats: Stats | None) -> dict[str, Any]:
    if stats is not None and x in COST_METRICS:
        oa, ob = [stats.outcomes(p) for p in pa], [stats.outcomes(p) for p in pb]
        shared = set(oa[0].problems).intersection(*(o.problems for o in oa[1:] + ob))
        if shared:
            resampler = stats.resampler(tuple(pid for pid in oa[0].problems if pid in shared))
            result = paired.reach_ratio(resampler, oa, ob, x)
            result["saved"] = None if result["ratio"] is None else 1 / result["ratio"]
            return result
    result = fits.flops_saved(
        [p[x] for p in pa], [p["accuracy"] for p in pa], [p[x] for p in pb], [p["accuracy"] for p in pb]
    )
    result["ratio"] = None if result["saved"] is None else 1 / result["saved"]
    return {**result, "ratio_lo": None, "ratio_hi": None}


def trivial_saving(row: dict[str, Any]) -> bool:
    """A "compute to reach" row that says nothing: a ratio that prints as 0.00x (B's best
    is reached by A's cheapest point, as by a weak baseline) or an interval that is
    unbounded or reaches 0. Such rows are listed after the informative ones."""
    low, high = row.get("ratio_lo"), row.get("ratio_hi")
    unbounded = low is None or high is None or low <= 0 or not math.isfinite(high)
    return row["ratio"] < 0.005 or unbounded


def saved_sentence(row: dict[str, Any]) -> str:
    target = f"{row['b']}'s best accuracy {row['target_accuracy']:.3f}"
    if row.get("b_best") and row["b_best"] != row["b"]:
        target += f" ({row['b_best']})"
    if row["ratio"] is None:
        return f"{row['a']} never reaches {target} within its measured range"
    text = f"{row['a']} reaches {target} at {row['ratio']:.2f}x the {row['x']} ({row['cost_a']:.3g} vs {row['cost_b']:.3g})"
    if row.get("ratio_lo") is not None:
        text += f", 95% CI [{row['ratio_lo']:.2f}x, {row['ratio_hi']:.2f}x]"
    return text
