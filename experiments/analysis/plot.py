"""`infscale-plot <sweep dir>`: accuracy (or error rate) against compute per problem.

    infscale-plot multirun/pareto_sim [--x flops_total] [--error] [--svg] [--out docs/pareto.png]

One curve per (policy, strategy, selector), each point labelled with its width n, several
seeds of a point shown as their min-max bar, the Pareto front over all method points on top,
greedy decoding as a dotted level per policy and pass@n (coverage: the ceiling any verifier
could reach from those samples) as a thin dashed curve. The 95% bootstrap bands are drawn only
for curves that reach the front (all of them with --bands), so 20+ curves stay readable.
Reads `infscale-collect`'s tables.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from infscale.experiments.analysis import outcomes  # noqa: E402
from infscale.experiments.analysis.analyze import (  # noqa: E402
    COSTS,
    label_curves,
    load_points,
    methods,
    pareto_front,
    seed_intervals,
)
from infscale.experiments.analysis.curves import COVERAGE  # noqa: E402
from infscale.experiments.app import errors

X_LABELS = {
    "flops_total": "flops_total per problem (policy prefill + decode + PRM, with attention)",
    "flops_paper": "flops_paper per problem (2 N D over generated tokens, Kaplan)",
    "tokens_generated": "generated tokens per problem",
    "wall_s": "wall-clock seconds per problem",
}
MARKERS = ("o", "s", "^", "D", "v", "P")


def _color_key(point: dict[str, Any], by_reward: bool) -> tuple:
    key = (point["strategy.name"], point.get("strategy.selector"))
    return (*key, str(point.get("reward.name"))) if by_reward else key


def _style(curves: dict[str, list[dict[str, Any]]]) -> tuple[dict[tuple, Any], dict[str, int], bool]:
    """Colors per strategy (and per reward, where the methods use several), line style and
    marker per policy."""
    methods_ = [c[0] for c in curves.values() if c[0]["strategy.name"] != "greedy"]
    by_reward = len({str(p.get("reward.name")) for p in methods_ if p.get("strategy.selector") != COVERAGE}) > 1
    strategies = sorted({_color_key(c[0], by_reward) for c in curves.values()}, key=str)
    policies = sorted({c[0]["policy.name"] for c in curves.values()})
    palette = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]  # no gray: gray is for references
    if len(strategies) > len(palette):
        palette = [plt.get_cmap("tab20")(i) for i in (*range(0, 14), *range(16, 20))]
    colors = {s: palette[i % len(palette)] for i, s in enumerate(strategies)}
    return colors, {p: i for i, p in enumerate(policies)}, by_reward


def title(points: list[dict[str, Any]], error: bool = False, x: str = "flops_total") -> str:
    task = sorted({str(p["task.name"]) for p in points})
    policies = sorted({str(p["policy.name"]) for p in points})
    rewards = sorted({str(p["reward.name"]) for p in points} - {"none"})
    problems = sorted({int(p["n_problems"]) for p in points})
    count = str(problems[0]) if len(problems) == 1 else f"{problems[0]}-{problems[-1]}"
    return textwrap.fill(
        f"{', '.join(task)}: {'error rate' if error else 'accuracy'} vs {x}, policies {', '.join(policies)}, "
        f"PRM {', '.join(rewards) or 'none'}, {count} problems",
        100,
    )


def _draw_curve(
    ax: Any,
    name: str,
    members: list[dict[str, Any]],
    style: tuple[Any, int],
    x: str,
    y: Any,
    band: Any,
    with_band: bool,
    error: bool,
) -> None:
    """One curve on its policy's panel: greedy as a reference line, pass@n as a gray ceiling,
    every other method in its strategy's colour with the width n at each point."""
    color, k = style
    first = members[0]
    xs, ys = [p[x] for p in members], [y(p) for p in members]
    if first["strategy.name"] == "greedy":
        ax.axhline(ys[0], color="0.35", linestyle=":", linewidth=1.2)
        ax.plot(xs, ys, marker="*", markersize=11, color="0.2", linestyle="none", label="greedy (temperature 0)")
        return
    if first.get("strategy.selector") == COVERAGE:
        ax.plot(
            xs,
            ys,
            color="0.55",
            linestyle=(0, (1, 1.5)),
            marker=MARKERS[k % 6],
            markersize=3,
            linewidth=1.2,
            label="pass@n (coverage ceiling)",
        )
        return
    if with_band:
        low, high = zip(*(band(p) for p in members))
        ax.fill_between(xs, low, high, color=color, alpha=0.10, linewidth=0)
    label = name.removeprefix(f"{first['policy.name']} ")
    ax.plot(xs, ys, color=color, linestyle="-", marker=MARKERS[k % 6], markersize=4, label=label)
    for p, value in zip(members, ys):
        ax.annotate(
            str(p["strategy.n"]), (p[x], value), xytext=(2, 3), textcoords="offset points", fontsize=6, color=color
        )
    for p in members:
        if p.get("n_seeds", 1) > 1:
            spread = sorted(
                v if y(p) == p["accuracy"] else 1 - v for v in (p["accuracy_seed_min"], p["accuracy_seed_max"])
            )
            ax.plot([p[x], p[x]], spread, color=color, linewidth=2.5, alpha=0.6)


def plot(
    root: Path,
    x: str = "flops_total",
    error: bool = False,
    out: Path | None = None,
    svg: bool = False,
    curves: bool = True,
    bands: bool = False,
) -> list[Path]:
    if x not in COSTS:
        raise ValueError(f"--x must be one of {', '.join(COSTS)}, got '{x}'")
    points = [p for p in load_points(root, curves) if p.get(x) is not None]
    if (Path(root) / outcomes.FILE).exists():  # several seeds: their bands resample seeds too
        seed_intervals(points, outcomes.Stats(root, draws=400))
    if not points:
        raise ValueError(f"no point in {root} has {x}; choose another --x")
    named = label_curves(points)
    colors, policy_index, by_reward = _style(named)
    y = (lambda p: 1 - p["accuracy"]) if error else (lambda p: p["accuracy"])
    band = (
        (lambda p: (1 - p["accuracy_hi"], 1 - p["accuracy_lo"]))
        if error
        else (lambda p: (p["accuracy_lo"], p["accuracy_hi"]))
    )
    front = pareto_front(methods(points), x)
    on_front = {p["curve"] for p in front}
    policies = sorted(policy_index)
    fig, axes = plt.subplots(
        1, len(policies), figsize=(max(13, 5.2 * len(policies)), 8), sharex=True, sharey=True, squeeze=False
    )
    panels = dict(zip(policies, axes[0]))
    for name, members in sorted(named.items()):
        style = colors[_color_key(members[0], by_reward)], policy_index[members[0]["policy.name"]]
        panel = panels[members[0]["policy.name"]]
        _draw_curve(panel, name, members, style, x, y, band, bands or name in on_front, error)
    for policy, ax in panels.items():
        ax.plot(
            [p[x] for p in front],
            [y(p) for p in front],
            color="black",
            linewidth=2.2,
            alpha=0.75,
            drawstyle="steps-pre" if error else "steps-post",
            zorder=5,
            label="Pareto front (all policies and methods)",
        )
        ax.scatter([p[x] for p in front], [y(p) for p in front], s=40, facecolors="none", edgecolors="black", zorder=6)
        ax.set_xscale("log")
        ax.set_xlabel(X_LABELS[x], fontsize=9)
        ax.set_title(f"policy {policy}", fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=7, frameon=False)
    axes[0][0].set_ylabel(
        "error rate (fraction of problems wrong)" if error else "accuracy (fraction of problems right)"
    )
    fig.suptitle(title(points, error, x), fontsize=11)
    caption = "bands: 95% bootstrap CI over problems" + ("" if bands else " (only curves on the front; --bands: all)")
    fig.text(0.01, 0.005, caption + "; small numbers: the width n of each point", fontsize=7, color="0.3")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    out = Path(out) if out is not None else Path(root) / ("pareto.png" if x == "flops_total" else f"pareto_{x}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    written = [out]
    fig.savefig(out, dpi=110)
    if svg:
        fig.savefig(out.with_suffix(".svg"))
        written.append(out.with_suffix(".svg"))
    plt.close(fig)
    return written


@errors.command("infscale-plot")
def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="infscale-plot", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--x", default="flops_total", choices=COSTS)
    parser.add_argument("--error", action="store_true", help="plot the error rate instead of accuracy")
    parser.add_argument("--svg", action="store_true", help="also write an SVG beside the PNG")
    parser.add_argument("--out", type=Path, help="output PNG (default: <sweep>/pareto.png)")
    parser.add_argument("--no-curves", action="store_true", help="only real jobs, no subsampled points")
    parser.add_argument(
        "--bands", action="store_true", help="draw every curve's CI band (default: curves on the front)"
    )
    args = parser.parse_args(None if argv is None else list(argv))
    written = plot(args.sweep, args.x, args.error, args.out, args.svg, not args.no_curves, args.bands)
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
