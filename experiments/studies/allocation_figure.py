"""The allocation study's figure: accuracy against FLOPs actually spent, each allocator a
curve per selector beside the fixed best_of_n curves and their front (docs/allocation.png)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def figure(points: list[dict[str, Any]], path: Path, title: str, widths: tuple[int, ...]) -> None:
    """Draw the study's points to `path`, marking the fixed widths `widths` on each curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    kinds = {
        "fixed": ("C0", "o"),
        "uniform": ("C2", "s"),
        "probe_then_allocate": ("C3", "D"),
        "from_sweep": ("C4", "^"),
    }
    for kind, (color, marker) in kinds.items():
        for selector in sorted({p["selector"] for p in points}, reverse=True):
            curve = sorted(
                (p for p in points if p["kind"] == kind and p["selector"] == selector), key=lambda p: p["flops_mean"]
            )
            if not curve:
                continue
            label = "fixed best_of_n" if kind == "fixed" else kind
            ax.plot(
                [p["flops_mean"] for p in curve],
                [p["accuracy"] for p in curve],
                marker=marker,
                color=color,
                ls="-" if selector == "weighted" else ":",
                mfc=color if selector == "weighted" else "white",
                label=f"{label} ({selector})",
                markersize=4,
                markevery=[i for i, p in enumerate(curve) if p.get("n", widths[0]) in widths],
                lw=1.6 if kind != "fixed" else 1.0,
            )
    fixed = sorted((p for p in points if p["kind"] == "fixed"), key=lambda p: p["flops_mean"])
    front, best = [], -1.0
    for p in fixed:
        if p["accuracy"] > best:
            front.append(p)
            best = p["accuracy"]
    ax.step(
        [p["flops_mean"] for p in front],
        [p["accuracy"] for p in front],
        where="post",
        color="0.3",
        lw=2.5,
        alpha=0.35,
        label="fixed-configuration front",
    )
    ax.set_xscale("log")
    ax.set_xlabel("mean FLOPs per problem (flops.total, actually spent)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
