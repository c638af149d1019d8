"""CSVs, figure and table of `experiments/studies/verifier_crossover.py`.

- `<results>/crossover_points.csv`: per policy, verifier, strategy and width, search's
  accuracy and compute, weighted sampling's accuracy at that compute, the paired difference
  and its 95% interval, the verifier's step AUC on that policy's solutions and its interval;
- `<results>/crossover_thresholds.csv`: per policy, strategy and width, the step AUC above
  which search leads (the noisy-oracle ladder's zero crossing) with its interval;
- `<results>/crossover_auc.csv`: every verifier's step AUC per policy and pooled;
- `<docs>/crossover.png`, `<docs>/crossover_table.md`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from infscale.experiments.studies.verifier_auc import POOLED  # noqa: E402

MARKERS = {"toy_sum_prm": "*", "toy_sum_prm_xs": "P", "toy_sum_prm_lessons": "D", "toy_prm": "X"}


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def auc_rows(aucs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for verifier, by_policy in aucs.items():
        for policy, value in by_policy.items():
            low, high = np.nanquantile(value["replicates"], [0.025, 0.975])
            rows.append({"verifier": verifier, "policy": policy, "step_auc": value["auc"], "lo": low, "hi": high})
    return rows


def figure(rows: Sequence[dict[str, Any]], grid: Any, path: Path) -> Path:
    """One panel per policy and strategy: search - sampling against step AUC, a line per width
    over the noisy-oracle ladder, the learned PRMs as separate markers."""
    panel_rows, cols = len(grid.strategies), len(grid.policies)
    size = (max(4.2 * cols, 8.0), max(3.6 * panel_rows, 5.0))  # smaller, one panel's titles and legend are clipped
    fig, axes = plt.subplots(panel_rows, cols, figsize=size, sharex=True, sharey=True, squeeze=False)
    colours = dict(zip(grid.ns, plt.cm.viridis(np.linspace(0.1, 0.85, len(grid.ns)))))
    for i, strategy in enumerate(grid.strategies):
        for j, policy in enumerate(grid.policies):
            ax = axes[i][j]
            ax.axhline(0.0, color="grey", lw=0.8)
            for n in grid.ns:
                mine = [
                    r
                    for r in rows
                    if (r["policy"], r["strategy"], r["n"]) == (policy, strategy, n) and r["diff"] is not None
                ]
                ladder = sorted((r for r in mine if r["verifier"] not in MARKERS), key=lambda r: r["step_auc"])
                for group, style in (
                    (ladder, dict(marker="o", ls="-")),
                    *(([r], None) for r in mine if r not in ladder),
                ):
                    if not group:
                        continue
                    x = np.array([r["step_auc"] for r in group])
                    y = 100 * np.array([r["diff"] for r in group])
                    yerr = 100 * np.abs(np.array([[r["diff_lo"], r["diff_hi"]] for r in group]).T - y / 100)
                    xerr = np.abs(np.array([[r["auc_lo"], r["auc_hi"]] for r in group]).T - x)
                    kwargs = style or dict(marker=MARKERS[group[0]["verifier"]], ls="none", ms=11, mec="black")
                    ax.errorbar(x, y, yerr=yerr, xerr=xerr, color=colours[n], capsize=2, lw=1, **kwargs,
                                label=f"n = {n}" if style else None)  # fmt: skip
            counts = sorted({r["problems"] for r in rows if (r["policy"], r["strategy"]) == (policy, strategy)})
            size = f" ({'/'.join(map(str, counts))} problems)" if counts else " (not run)"
            ax.set_title(f"{policy}: {strategy} - weighted sampling{size}", fontsize=9)
            ax.grid(alpha=0.3)
            if i == len(grid.strategies) - 1:
                ax.set_xlabel("verifier step AUC on the policy's solutions")
    handles, labels = axes[0][0].get_legend_handles_labels()
    shown = [prm for prm in grid.prms if prm in MARKERS]
    handles += [plt.Line2D([], [], marker=MARKERS[p], ls="none", color="grey", mec="black", ms=10) for p in shown]
    labels += shown
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False)
    fig.supylabel("accuracy difference at equal flops.total (points)", fontsize=10)
    fig.suptitle(
        "Search minus PRM-weighted sampling at equal flops.total (toy_sum seed 4)\n"
        "circles: exact checker with label noise 0-0.4, charged as toy_sum_prm; markers: learned PRMs",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _auc_text(value: float, low: float, high: float) -> str:
    if math.isinf(value) and value < 0:
        return "below the ladder (search ahead everywhere)"
    if math.isinf(value):
        return "above the ladder (never ahead)"
    bounds = ["-inf" if math.isinf(low) and low < 0 else f"{low:.3f}", "+inf" if math.isinf(high) else f"{high:.3f}"]
    return f"{value:.3f} [{bounds[0]}, {bounds[1]}]"


def table(thresholds: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]], grid: Any) -> str:
    """Markdown: per policy, strategy and width, the threshold and where each learned PRM sits
    (its AUC and its own measured difference)."""
    head = ["policy", "search", "n", "problems", "threshold step AUC [95%]", "in range"]
    for prm in grid.prms:
        head += [f"{prm} AUC", f"{prm}: search - sampling (pts)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in thresholds:
        cells = [t["policy"], t["strategy"], str(t["n"]), str(t["problems"])]
        cells.append(_auc_text(t["threshold_auc"], t["lo"], t["hi"]))
        cells.append(f"{100 * t['share_in_range']:.0f}%")
        for prm in grid.prms:
            mine = [
                r
                for r in rows
                if (r["policy"], r["strategy"], r["n"], r["verifier"]) == (t["policy"], t["strategy"], t["n"], prm)
            ]
            auc = t[f"{prm}_auc"]
            side = "above" if auc > t["threshold_auc"] else "below"
            cells.append(f"{auc:.3f} ({side})")
            d = mine[0] if mine and mine[0]["diff"] is not None else None
            cells.append(
                "-" if d is None else f"{100 * d['diff']:+.1f} [{100 * d['diff_lo']:+.1f}, {100 * d['diff_hi']:+.1f}]"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(
    rows: list[dict[str, Any]],
    thresholds: list[dict[str, Any]],
    aucs: dict[str, dict[str, Any]],
    grid: Any,
    results: Path,
    docs: Path,
) -> list[Path]:
    written = [
        write_csv(results / "crossover_points.csv", rows),
        write_csv(results / "crossover_thresholds.csv", thresholds),
        write_csv(results / "crossover_auc.csv", auc_rows(aucs)),
        figure(rows, grid, docs / "crossover.png"),
    ]
    path = docs / "crossover_table.md"
    path.write_text(
        "Step AUC at which search overtakes PRM-weighted sampling at equal flops.total (problems of "
        f"toy_sum seed 4; AUC on seed 5, {POOLED} and per policy in crossover_auc.csv). "
        "Generated by verifier_crossover.py.\n\n" + table(thresholds, rows, grid)
    )
    return [*written, path]
