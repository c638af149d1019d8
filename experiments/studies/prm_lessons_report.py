"""Table, plot and numbers of `experiments/studies/prm_lessons.py`, written into `docs/`.

Every number is a mean over the seeds with a 95% t interval (scipy's Student t, n - 1
degrees of freedom); label sources are ordered only where the paired difference (same
seed, hence the same pool of solutions) has a 95% interval that excludes zero."""

from __future__ import annotations

import json
from dataclasses import asdict
from itertools import combinations
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from infscale.experiments.app.store import atomic_write  # noqa: E402
from infscale.experiments.stats import t_interval  # noqa: E402

BON_COLUMNS = ("best_min", "best_last", "best_prod", "weighted_min", "weighted_last")
SHARE = (0.0, 1.0)
ORDERED_METRICS = {"step AUC (to first error)": "step_auc", "F1 (fitted tau)": "f1_fitted", "Best-of-N min": "best_min"}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def metrics(row: dict[str, Any]) -> dict[str, float | None]:
    """One PRM's numbers from one seed, flat."""
    subsets = row["step"]["subsets"].values()
    bon = row["bon"]
    return {
        "f1": row["step"]["avg_f1"],
        "acc_err": _mean([m["acc_err"] for m in subsets if m["acc_err"] is not None]),
        "acc_cor": _mean([m["acc_cor"] for m in subsets if m["acc_cor"] is not None]),
        "f1_fitted": row["step_fitted"]["avg_f1"],
        "tau": row["step_fitted"]["tau"],
        "step_auc": row["step_auc"],
        "step_auc_all_steps": row.get("step_auc_all_steps"),
        **{c: bon["accuracy"][c]["accuracy"] for c in BON_COLUMNS},
        "min_on_last": bon["min_on_last"]["share"],
        "wrong_process_caught": (bon["wrong_process"] or {}).get("caught"),
    }


def by_prm(results: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """PRM name -> metric -> one value per seed (seeds in the order run)."""
    table: dict[str, dict[str, list[float]]] = {}
    for result in results:
        for row in result["prms"]:
            for key, value in metrics(row).items():
                if value is not None:
                    table.setdefault(row["name"], {}).setdefault(key, []).append(float(value))
    return table


def _cell(values: list[float] | None, scale: float = 100.0, digits: int = 1) -> str:
    if not values:
        return "–"
    mean, low, high = (scale * v for v in t_interval(values, SHARE if scale == 100.0 else None))
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def table(results: list[dict[str, Any]]) -> str:
    columns = (
        [("F1 (tau 0.5)", "f1"), ("acc_err", "acc_err"), ("acc_cor", "acc_cor"), ("F1 (fitted tau)", "f1_fitted")]
        + [("step AUC (to first error)", "step_auc"), ("step AUC (all steps)", "step_auc_all_steps")]
        + [(c.replace("_", " "), c) for c in BON_COLUMNS]
        + [("min on last step", "min_on_last"), ("wrong process caught", "wrong_process_caught")]
    )
    prms = by_prm(results)
    lines = ["| PRM | " + " | ".join(name for name, _ in columns) + " |", "|" + "---|" * (len(columns) + 1)]
    for name, values in prms.items():
        lines.append("| " + name + " | " + " | ".join(_cell(values.get(key)) for _, key in columns) + " |")
    taus = {name: _cell(v.get("tau"), 1.0, 3) for name, v in prms.items()}
    lines.append("")
    lines.append("Fitted tau: " + ", ".join(f"{name} {tau}" for name, tau in taus.items()) + ".")
    return "\n".join(lines)


def orderings(results: list[dict[str, Any]]) -> list[str]:
    """Per metric, every pair of label sources whose paired difference over seeds has a 95%
    t interval excluding zero, and the pairs it does not separate."""
    prms = {k: v for k, v in by_prm(results).items() if k != "exact checker"}
    lines = []
    for label, key in ORDERED_METRICS.items():
        separated, tied = [], []
        for a, b in combinations(prms, 2):
            if len(prms[a].get(key, [])) != len(results) or len(prms[b].get(key, [])) != len(results):
                continue
            diff = [x - y for x, y in zip(prms[a][key], prms[b][key])]
            mean, low, high = (100 * v for v in t_interval(diff))
            if low > 0 or high < 0:
                first, second = (a, b) if mean > 0 else (b, a)
                separated.append(
                    f"{first} > {second} ({abs(mean):+.1f} [{min(abs(low), abs(high)):.1f}, {max(abs(low), abs(high)):.1f}])"
                )
            else:
                tied.append(f"{a} ~ {b}")
        text = "; ".join(separated) if separated else "no pair separated"
        lines.append(f"- **{label}**: {text}. Not separated: {', '.join(tied) or 'none'}.")
    return lines


def synth_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| labels | solutions | first error = truth | step accuracy | false negatives | false positives |",
        "|---|---|---|---|---|---|",
    ]
    synths = [r["synthesis"] for r in results]
    for name in synths[0]["agreement"]:
        rows = [s["agreement"][name] for s in synths]
        lines.append(
            f"| {name} | {_cell([a['n'] for a in rows], 1.0, 0)} | "
            + " | ".join(
                _cell([a[k] for a in rows])
                for k in ("first_error_agreement", "step_accuracy", "false_negative_rate", "false_positive_rate")
            )
            + " |"
        )
    raw = [s["agreement"]["mc"]["mc_raw"] for s in synths]
    lines.append(
        "| MC per-step hard labels (before the first-error cut) | – | – | "
        + " | ".join(
            _cell([a[k] for a in raw]) for k in ("step_accuracy", "false_negative_rate", "false_positive_rate")
        )
        + " |"
    )
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], path: Path) -> None:
    table_ = by_prm(results)
    names = list(table_)
    series = [
        ("step AUC (to first error)", "step_auc"),
        ("ProcessBench F1 (fitted tau, test half)", "f1_fitted"),
        ("Best-of-N accuracy, min", "best_min"),
        ("PRM-weighted voting, min", "weighted_min"),
    ]
    majority = 100 * float(np.mean([r["prms"][0]["bon"]["accuracy"]["majority"]["accuracy"] for r in results]))
    fig, ax = plt.subplots(figsize=(11, 4.4))
    width = 0.8 / len(series)
    for k, (label, key) in enumerate(series):
        stats_ = [t_interval(table_[n][key], SHARE) if table_[n].get(key) else (0.0, 0.0, 0.0) for n in names]
        means = [100 * m for m, _, _ in stats_]
        errors = [[100 * (m - lo) for m, lo, _ in stats_], [100 * (hi - m) for m, _, hi in stats_]]
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, means, width, yerr=errors, capsize=2, label=label)
    ax.axhline(majority, color="gray", linestyle="--", linewidth=1, label=f"majority vote ({majority:.1f})")
    ax.set_xticks(range(len(names)), names, rotation=15)
    ax.set_ylabel("% (mean over seeds, 95% t interval)")
    ax.set_ylim(0, 105)
    ax.set_title(f"Toy PRMs by label source over {len(results)} seeds: step level vs response level")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(cfg: Any, results: list[dict[str, Any]], docs: Path, policy: str) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    seeds = [r["seed"] for r in results]
    atomic_write(docs / "prm_lessons.json", json.dumps({"settings": asdict(cfg), "seeds": results}, indent=1))
    first = results[0]
    bon = first["prms"][0]["bon"]
    synth = first["synthesis"]
    text = (
        "# PRM lessons in the toy world: results\n\n"
        "Written by `python -m infscale.experiments.studies.prm_lessons` (settings and every per-seed number "
        f"in `prm_lessons.json`). Seeds {', '.join(map(str, seeds))}; each cell is the mean over the seeds "
        "with its 95% t interval.\n\n"
        f"## Label synthesis ({synth['n_pool']} {policy} solutions per seed; consensus kept "
        f"{_cell([r['synthesis']['kept_share'] for r in results])}%)\n\n"
        + synth_table(results)
        + "\n\n## PRMs (all numbers %)\n\n"
        + table(results)
        + f"\n\nBest-of-{bon['n']} on {bon['n_problems']} held-out problems (the same responses for every seed): "
        f"majority vote {_cell([bon['accuracy']['majority']['accuracy']])}, pass@{bon['n']} "
        f"{_cell([bon['pass_at_n']])}.\n\n"
        "## Orderings the seeds support (paired by seed, 95% t interval of the difference, points)\n\n"
        + "\n".join(orderings(results))
        + "\n"
    )
    atomic_write(docs / "prm_lessons_table.md", text)
    plot(results, docs / "prm_lessons.png")
    print(text)
