"""Allocators compared at equal *spent* compute (DESIGN.md, compute accounting).

Two allocation runs given the same pool need not spend the same: an allocator that closes the
problems it is done with may leave half of it unspent, so "X beats Y at the same pool" can
compare different compute. Here a run's compute is what its records were charged (the sum of
their `flops.total`), and two runs are compared only when their spends differ by at most
`SPEND_TOLERANCE` of the larger; each row says both spends and the share of its pool each
used, and the paired bootstrap interval of the accuracy difference over the same problems.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from infscale.experiments.stats import paired_difference

SPEND_TOLERANCE = 0.05  # two runs are at equal spend when their FLOPs differ by at most 5% of the larger


def spend(folder: Path, flops: list[float]) -> dict[str, float | None]:
    """A run's `spent` FLOPs (its records' sum), its `pool` (None for a fixed run) and the
    share of the pool it used."""
    summary = json.loads((folder / "summary.json").read_text())
    pool = (summary.get("pool") or {}).get("total_flops")
    spent = float(sum(flops))
    return {"spent": spent, "pool": pool, "pool_used": spent / pool if pool else None}


def at_equal_spend(points: list[dict[str, Any]], tolerance: float = SPEND_TOLERANCE) -> list[dict[str, Any]]:
    """Every pair of allocation runs of two different allocators with the same selector whose
    spends are within `tolerance`: `gain` (a - b accuracy, paired over problems) with its 95%
    interval. Pairs further apart are left out, not extrapolated."""
    if not 0 <= tolerance < 1:
        raise ValueError(f"the spend tolerance must lie in [0, 1), got {tolerance!r}")
    allocated = sorted((p for p in points if p["kind"] != "fixed"), key=lambda p: (p["kind"], p["spent"]))
    rows = []
    for a, b in itertools.combinations(allocated, 2):
        if a["kind"] == b["kind"] or a["selector"] != b["selector"]:
            continue
        gap = abs(a["spent"] - b["spent"]) / max(a["spent"], b["spent"])
        if gap > tolerance:
            continue
        mean, low, high = paired_difference(a["correct"], b["correct"])
        rows.append(
            {
                "a": a["name"],
                "b": b["name"],
                "selector": a["selector"],
                "spent_a": a["spent"],
                "spent_b": b["spent"],
                "pool_used_a": a["pool_used"],
                "pool_used_b": b["pool_used"],
                "spend_gap": gap,
                "accuracy_a": a["accuracy"],
                "accuracy_b": b["accuracy"],
                "gain": mean,
                "gain_lo": low,
                "gain_hi": high,
            }
        )
    return rows


def describe(row: dict[str, Any]) -> str:
    """One printed line of the equal-spend table."""

    def side(k: str) -> str:
        used = row[f"pool_used_{k}"]
        share = f" ({used:.0%} of its pool)" if used is not None else ""
        return f"{row[k]} {row[f'accuracy_{k}']:.3f} at {row[f'spent_{k}']:.3g} FLOPs{share}"

    return f"{side('a')} vs {side('b')}: {row['gain']:+.3f} [{row['gain_lo']:+.3f}, {row['gain_hi']:+.3f}]"
