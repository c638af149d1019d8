"""Table, plot and numbers of `experiments/prm_lab/lessons.py`, written into `docs/`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from infscale.experiments.store import atomic_write  # noqa: E402

BON_COLUMNS = ("best_min", "best_last", "best_prod", "weighted_min", "weighted_last")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        ["PRM", "F1 (tau 0.5)", "acc_err", "acc_cor", "F1 (fitted tau)", "tau", "step AUC"]
        + [c.replace("_", " ") for c in BON_COLUMNS]
        + ["min on last step", "wrong process caught"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        subsets = row["step"]["subsets"].values()
        acc_err = [m["acc_err"] for m in subsets if m["acc_err"] is not None]
        acc_cor = [m["acc_cor"] for m in subsets if m["acc_cor"] is not None]
        bon = row["bon"]
        cells = [
            row["name"],
            _pct(row["step"]["avg_f1"]),
            _pct(_mean(acc_err)),
            _pct(_mean(acc_cor)),
            _pct(row["step_fitted"]["avg_f1"]),
            f"{row['step_fitted']['tau']:.3g}",
            _pct(row["step_auc"]),
        ]
        cells += [_pct(bon["accuracy"][c]["accuracy"]) for c in BON_COLUMNS]
        wp = bon["wrong_process"] or {}
        cells += [_pct(bon["min_on_last"]["share"]), _pct(wp.get("caught"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def synth_table(synth: dict[str, Any]) -> str:
    lines = [
        "| labels | solutions | first error = truth | step accuracy | false negatives | false positives |",
        "|---|---|---|---|---|---|",
    ]
    for name, a in synth["agreement"].items():
        lines.append(
            f"| {name} | {a['n']} | {_pct(a['first_error_agreement'])} | {_pct(a['step_accuracy'])} | "
            f"{_pct(a['false_negative_rate'])} | {_pct(a['false_positive_rate'])} |"
        )
    raw = synth["agreement"]["mc"]["mc_raw"]
    lines.append(
        f"| MC per-step hard labels (before the first-error cut) | {synth['agreement']['mc']['n']} | – | "
        f"{_pct(raw['step_accuracy'])} | {_pct(raw['false_negative_rate'])} | {_pct(raw['false_positive_rate'])} |"
    )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    names = [r["name"] for r in rows]
    f1 = [100 * (r["step_fitted"]["avg_f1"] or 0) for r in rows]
    bon_min = [100 * r["bon"]["accuracy"]["best_min"]["accuracy"] for r in rows]
    bon_last = [100 * r["bon"]["accuracy"]["best_last"]["accuracy"] for r in rows]
    majority = 100 * rows[0]["bon"]["accuracy"]["majority"]["accuracy"]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(11, 4.2))
    width = 0.27
    ax.bar([i - width for i in x], f1, width, label="ProcessBench F1 (fitted tau, test half)")
    ax.bar(list(x), bon_min, width, label="Best-of-8 accuracy, min")
    ax.bar([i + width for i in x], bon_last, width, label="Best-of-8 accuracy, last")
    ax.axhline(majority, color="gray", linestyle="--", linewidth=1, label=f"majority vote ({majority:.1f})")
    ax.set_xticks(list(x), names, rotation=15)
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.set_title("Toy PRMs by label source: step level vs response level")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(cfg: Any, synth: dict[str, Any], rows: list[dict[str, Any]], docs: Path) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    atomic_write(
        docs / "prm_lessons.json", json.dumps({"settings": asdict(cfg), "synthesis": synth, "prms": rows}, indent=1)
    )
    text = (
        "# PRM lessons in the toy world: results\n\n"
        "Written by `python -m infscale.experiments.prm_lab.lessons` (settings in `prm_lessons.json`).\n\n"
        f"## Label synthesis ({synth['n_pool']} toy_small solutions; consensus kept {_pct(synth['kept_share'])}%)\n\n"
        + synth_table(synth)
        + "\n\n## PRMs (all numbers %)\n\n"
        + table(rows)
        + f"\n\nBest-of-{rows[0]['bon']['n']} on {rows[0]['bon']['n_problems']} held-out problems: "
        f"majority vote {_pct(rows[0]['bon']['accuracy']['majority']['accuracy'])}, "
        f"pass@{rows[0]['bon']['n']} {_pct(rows[0]['bon']['pass_at_n'])}.\n"
    )
    atomic_write(docs / "prm_lessons_table.md", text)
    plot(rows, docs / "prm_lessons.png")
    print(text)
