"""The papers' figures, from an `analyze.analyze` result (one compute measure `x` each):

  (a) `error_<x>.png`   error rate against compute, log-log, one panel per strategy, one line
                        per model size, the fitted `fits.FORM` drawn solid (dashed when flagged:
                        not to be trusted; absent when there is no fit) — Wu et al. Fig. 2-3;
  (b) `optimal_size_<x>.png`  the compute-optimal model size per budget (tied sizes hollow),
                        with its log-log fit when identified — Wu et al. Fig. 1;
  (c) `levels_<x>.png`  accuracy against compute, one row per policy, one column per
                        difficulty level — Snell et al. Fig. 3.
Titles and axis labels say which FLOP convention (flops_total or flops_paper) they use.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker  # noqa: E402

from infscale.experiments.analysis.analyze import average_seeds, label_curves  # noqa: E402
from infscale.experiments.analysis.collect import read_table  # noqa: E402
from infscale.experiments.analysis.curves import COVERAGE  # noqa: E402
from infscale.experiments.analysis.optimal import model_params  # noqa: E402

CONVENTION = {
    "flops_total": "flops_total: policy prefill + decode + PRM, with attention",
    "flops_paper": "flops_paper: 2 N D over generated tokens (Kaplan)",
    "tokens_generated": "generated tokens",
    "wall_s": "wall-clock seconds",
}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _strategy(point: dict[str, Any]) -> str:
    selector = point.get("strategy.selector")
    return point["strategy.name"] + (f"/{selector}" if selector and point["strategy.name"] != "greedy" else "")


def _policies(points: list[dict[str, Any]]) -> list[str]:
    """Policies from the smallest model to the largest (by the ledger's 2 N D)."""
    size = {p["policy.name"]: model_params(p) for p in points if model_params(p)}
    return sorted({p["policy.name"] for p in points}, key=lambda name: (size.get(name, math.inf), name))


def _label_grid(axes: Any, panels: int, x: str, ylabel: str) -> None:
    """A panel grid: unused panels off, the compute axis labelled on the bottom row, `ylabel` on the left."""
    for ax in axes.flat[panels:]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel(f"{x} per problem")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)


def _save(fig: Any, path: Path) -> Path:
    if not fig.legends:
        fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def legend_below(fig: Any, axes: Any, columns: int = 3) -> Any:
    """One legend for a grid of panels, each entry once (the same label has the same style in
    every panel), under the panels and inside the canvas: in as many columns as fit the width,
    its height measured once drawn and added to the figure's below the panels."""
    entries: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    for ncol in range(min(columns, len(entries)), 0, -1):  # as many columns as fit the width
        legend = fig.legend(
            list(entries.values()), list(entries), loc="lower center", ncol=ncol,
            fontsize=7, frameon=False, bbox_to_anchor=(0.5, 0.005),
        )  # fmt: skip
        fig.canvas.draw()
        width = legend.get_window_extent().width
        if width <= 0.98 * fig.bbox.width or ncol == 1:
            break
        legend.remove()
    if width > 0.98 * fig.bbox.width:  # one column of labels wider than the figure
        fig.set_figwidth(fig.get_figwidth() * width / (0.95 * fig.bbox.width))
        fig.canvas.draw()
    room = legend.get_window_extent().height / fig.dpi + 0.1  # inches, added below the panels
    fig.set_figheight(fig.get_figheight() + room)
    fig.tight_layout(rect=(0, room / fig.get_figheight(), 1, 1))
    return legend


def _variant(name: str, strategy: str) -> str:
    """What tells a curve apart inside its strategy's panel: its policy and, where the sweep
    varies them, its other keys (the reward, ...): the curve's name less the strategy."""
    return name.replace(f" {strategy}", "", 1)


def error_vs_compute(result: dict[str, Any], x: str, out: Path) -> Path:
    """(a): one panel per strategy, one line per policy, fits solid / dashed (flagged)."""
    return _save(draw_error(result, x), out)


def draw_error(result: dict[str, Any], x: str) -> Any:
    """Figure (a): colour = policy, marker = the rest of the curve's identity (e.g. the reward)."""
    curves = label_curves([p for p in result["points"] if p.get(x) and p.get("strategy.selector") != COVERAGE])
    curves = {n: m for n, m in curves.items() if m[0]["strategy.name"] != "greedy"}
    strategies = sorted({_strategy(m[0]) for m in curves.values()})
    if not strategies:
        raise ValueError(f"no method curve has {x}: nothing to draw")
    policies = _policies(result["points"])
    colors = {p: plt.get_cmap("viridis")(i / max(len(policies) - 1, 1) * 0.85) for i, p in enumerate(policies)}
    rests = sorted({_variant(n, _strategy(m[0])).removeprefix(m[0]["policy.name"]) for n, m in curves.items()})
    cols = min(3, len(strategies))
    rows = math.ceil(len(strategies) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False, sharey=True)
    for ax, strategy in zip(axes.flat, strategies):
        for name, members in sorted(curves.items()):
            first = members[0]
            if _strategy(first) != strategy:
                continue
            variant = _variant(name, strategy)
            color, k = colors[first["policy.name"]], rests.index(variant.removeprefix(first["policy.name"]))
            xs = np.array([p[x] for p in members])
            ys = np.maximum([1 - p["accuracy"] for p in members], 1e-3)
            ax.plot(xs, ys, MARKERS[k % len(MARKERS)], color=color, markersize=4, label=variant)
            robust = result["fits"].get(name)
            if robust is not None and robust.fit is not None:
                grid = np.geomspace(xs.min(), xs.max(), 100)
                style = "-" if robust.usable else "--"
                ax.plot(grid, np.maximum(robust.fit.predict(grid), 1e-3), style, color=color, linewidth=1.3, alpha=0.8)
        _log_compute_axis(ax)
        ax.set_yscale("log")
        ax.set_title(strategy, fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
    _label_grid(axes, len(strategies), x, "error rate")
    fig.suptitle(
        f"Error rate vs compute ({CONVENTION[x]}), log-log; lines: fitted {_form()}, solid = fit ok, dashed = flagged",
        fontsize=10,
    )
    legend_below(fig, axes)
    return fig


def _log_compute_axis(ax: Any) -> None:
    """Log compute axis whose labels never run into each other: matplotlib labels the minor
    ticks 2, 3, 4 and 6 of a panel spanning under a decade, and 3 and 4 collide in a narrow
    panel; here minor ticks sit at 2 and 5 only, labelled only under a decade."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(ticker.LogLocator(subs=(2.0, 5.0)))
    ax.xaxis.set_minor_formatter(ticker.LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(1, 1)))


def _form() -> str:
    return "e_inf + a (C/C0)^-b"


def size_fit_curve(fit: dict[str, Any], budgets: list[float], sizes: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The fitted N_opt(C) over the measured budgets, only where it stays within the model
    sizes measured (a fit extrapolated past the largest model says nothing about it)."""
    grid = np.geomspace(min(budgets), max(budgets), 200)
    values = 10 ** (fit["intercept"] + fit["slope"] * np.log10(grid))
    inside = (values >= min(sizes)) & (values <= max(sizes))
    return grid[inside], values[inside]


def optimal_size(result: dict[str, Any], x: str, out: Path) -> Path:
    """(b): the compute-optimal model size per budget (hollow: other sizes tied), with its fit."""
    rows = [r for r in result["tables"]["optimal_size"] if r["params"]]
    if not rows:
        raise ValueError("no compute-optimal row knows its model size (no flops_paper): nothing to draw")
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot([r["budget"] for r in rows], [r["params"] for r in rows], "o", color="C0", label="compute-optimal size")
    params = {p["policy.name"]: model_params(p) for p in result["points"] if model_params(p)}
    tied = [(r["budget"], params[t]) for r in rows for t in r["tied_sizes"].split(";") if t in params]
    if tied:
        ax.plot(*zip(*tied), "o", markerfacecolor="none", color="C0", label="size tied with it (paired bootstrap)")
    fit = result["size_fit"]
    if fit["slope"] is not None:
        ax.plot(
            *size_fit_curve(fit, [r["budget"] for r in rows], [*params.values(), *(r["params"] for r in rows)]),
            "-",
            color="C1",
            label=f"fit N_opt ~ C^{fit['slope']:.2f}",
        )
        note = ""
    else:
        note = f"\nno fit: {fit['flags']} ({fit['n_points']} untied budgets, {fit['n_sizes']} sizes; 3 of each needed)"
    left = min(r["budget"] for r in rows)
    for name, size in params.items():
        ax.axhline(size, color="0.8", linewidth=0.8, zorder=0)
        ax.text(left, size, f" {name}", fontsize=7, va="bottom", color="0.4")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{x} budget per problem")
    ax.set_ylabel("policy non-embedding parameters N")
    ax.set_title(f"Compute-optimal model size vs budget ({x}){note}", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.grid(True, which="both", alpha=0.25)
    return _save(fig, out)


def accuracy_per_level(root: Path, result: dict[str, Any], x: str, out: Path) -> Path:
    """(c): one panel per difficulty level, accuracy vs compute of every method curve."""
    return _save(draw_levels(root, x), out)


def draw_levels(root: Path, x: str) -> Any:
    """Figure (c): one row of panels per policy (smallest first), one column per difficulty
    level, colour = method; axes shared, so the rows compare the sizes at equal compute."""
    points = [
        p
        for p in average_seeds(read_table(Path(root) / "levels.json"))
        if p.get(x) and p.get("strategy.selector") != COVERAGE
    ]
    if not points:
        raise ValueError(f"no difficulty row has {x}: nothing to draw")
    levels = sorted({p["difficulty"] for p in points})
    policies = _policies(points)
    fig, axes = plt.subplots(
        len(policies), len(levels), figsize=(3.6 * len(levels), 2.7 * len(policies)),
        squeeze=False, sharex=True, sharey=True,
    )  # fmt: skip
    curves = label_curves(points)
    methods = sorted({name.split(" ", 1)[-1] for name in curves})
    palette = plt.get_cmap("tab10" if len(methods) <= 10 else "tab20")
    colors = {method: palette(i % palette.N) for i, method in enumerate(methods)}
    for row, policy in zip(axes, policies):
        for ax, level in zip(row, levels):
            cell = label_curves([p for p in points if p["difficulty"] == level and p["policy.name"] == policy])
            for name, members in sorted(cell.items()):
                method = name.split(" ", 1)[-1]
                xs, ys = [p[x] for p in members], [p["accuracy"] for p in members]
                ax.plot(xs, ys, "-o", color=colors[method], markersize=3, linewidth=1.1, label=method)
            count = {int(p["n_problems"]) for p in points if p["difficulty"] == level}.pop()
            ax.set_title(f"{policy}, {level} ({count} problem{'' if count == 1 else 's'})", fontsize=9)
            ax.set_xscale("log")
            ax.grid(True, which="both", alpha=0.25)
    _label_grid(axes, axes.size, x, "accuracy")
    fig.suptitle(f"Accuracy vs compute per policy and difficulty level ({CONVENTION[x]})", fontsize=10)
    legend_below(fig, axes, columns=4)
    return fig


def all_figures(root: Path, result: dict[str, Any], x: str, folder: Path | None = None) -> list[Path]:
    folder = Path(folder or root)
    folder.mkdir(parents=True, exist_ok=True)
    written = [
        error_vs_compute(result, x, folder / f"error_{x}.png"),
        optimal_size(result, x, folder / f"optimal_size_{x}.png"),
    ]
    if (Path(root) / "levels.json").exists():
        written.append(accuracy_per_level(root, result, x, folder / f"levels_{x}.png"))
    return written
