"""`infscale-analyze <sweep dir>`: Pareto front, compute-optimal table, scaling fits, FLOPs saved.

    infscale-analyze multirun/pareto_sim [--x flops_total|flops_paper|tokens_generated|wall_s]

Reads what `infscale-collect` wrote (`collected.json`, `curves.json`, `levels.json`) and writes
  pareto.csv           the non-dominated points by (x lower, accuracy higher);
  compute_optimal.csv  per log-spaced compute level, the most accurate point whose mean cost
                       fits, over all problems and per difficulty;
  scaling_fit.csv      per curve, `fits.FORM` fitted to the error rate, with standard errors;
  crossover.csv        compute at which two policies' fitted curves of one strategy cross;
  flops_saved.csv      compute at which configuration A reaches configuration B's best accuracy.
With `--x` other than flops_total the file names end in `_<x>` (pareto_wall_s.csv, ...).
Several seeds of one configuration are averaged into one point (their spread is kept).
Pass@n rows (coverage) are a ceiling, not a method: they never enter the front or the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from infscale.experiments.analysis import fits
from infscale.experiments.analysis.collect import METRICS, read_table, write_table
from infscale.experiments.analysis.curves import COVERAGE

COSTS = ("flops_total", "flops_paper", "tokens_generated", "wall_s")
NOT_CONFIG = {
    *METRICS,
    "source",
    "job",
    "git_commit",
    "finished_at",
    "draws",
    "difficulty",
    "n_seeds",
    "accuracy_seed_min",
    "accuracy_seed_max",
    "curve",
}
# A curve runs along the width, or (allocators, issue 17) along the data-set pool.
CURVE_DROP = ("seed", "strategy.n", "budget.total_flops", "budget.total_tokens")


def config_columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns and k not in NOT_CONFIG]
    return columns


def _key(row: dict[str, Any], columns: Iterable[str]) -> tuple:
    return tuple(json.dumps(row.get(k), sort_keys=True) for k in columns)


def average_seeds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per configuration: metrics averaged over its seeds, spread kept."""
    columns = [c for c in config_columns(rows) if c != "seed"]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(_key(row, columns + ["difficulty"]), []).append(row)
    points = []
    for members in groups.values():
        point = {k: v for k, v in members[0].items() if k not in METRICS}
        for metric in METRICS:
            values = [m.get(metric) for m in members]
            point[metric] = None if any(v is None for v in values) else float(np.mean(values))
        accuracies = [m["accuracy"] for m in members]
        point.update(
            seed=",".join(str(m.get("seed")) for m in members),
            n_seeds=len(members),
            accuracy_seed_min=min(accuracies),
            accuracy_seed_max=max(accuracies),
        )
        points.append(point)
    return points


def _pool(point: dict[str, Any]) -> float:
    return float(point.get("budget.total_flops") or point.get("budget.total_tokens") or 0.0)


def curve_name(row: dict[str, Any], extra: Iterable[str] = ()) -> str:
    name = f"{row['policy.name']} {row['strategy.name']}"
    if row["strategy.name"] not in ("greedy",) and row.get("strategy.selector"):
        name += f"/{row['strategy.selector']}"
    if row.get("allocator.name") not in (None, "none"):
        name += f" allocator={row['allocator.name']}"
    return name + "".join(f" {k}={row.get(k)}" for k in extra)


def label_curves(points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Points grouped into curves (all config but seed and width), each sorted by width."""
    columns = [c for c in config_columns(points) if c not in CURVE_DROP]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for point in points:
        groups.setdefault(_key(point, columns), []).append(point)
    base = ("policy.name", "strategy.name", "strategy.selector", "allocator.name")
    named: dict[str, list[dict[str, Any]]] = {}
    for members in groups.values():
        siblings = [g for g in groups.values() if _key(g[0], base) == _key(members[0], base)]
        extra = [c for c in columns if c not in base and len({_key(g[0], [c]) for g in siblings}) > 1]
        members.sort(key=lambda p: (p["strategy.n"], _pool(p), p.get("source") != "run"))
        for point in members:
            point["curve"] = curve_name(point, extra)
        named[members[0]["curve"]] = members
    return named


def load_points(root: Path, curves: bool = True) -> list[dict[str, Any]]:
    """Collected jobs plus subsampled curve points, seeds averaged."""
    rows = read_table(Path(root) / "collected.json")
    if curves and (Path(root) / "curves.json").exists():
        rows += read_table(Path(root) / "curves.json")
    points = average_seeds(rows)
    label_curves(points)
    return points


def pareto_front(points: list[dict[str, Any]], x: str, y: str = "accuracy") -> list[dict[str, Any]]:
    """Points no other point dominates (cost <= and accuracy >=, one strictly); identical
    points do not dominate each other, so ties are all kept. Sorted by cost."""
    usable = [p for p in points if p.get(x) is not None and p.get(y) is not None]
    ordered = sorted(usable, key=lambda p: (p[x], -p[y]))
    front, best = [], -math.inf
    for point in ordered:
        if point[y] > best:
            front.append(point)
            best = point[y]
        elif point[y] == best and front and front[-1][x] == point[x]:
            front.append(point)
    return front


def methods(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in points if p.get("strategy.selector") != COVERAGE]


def budget_levels(costs: list[float], per_decade: int) -> list[float]:
    """Log-spaced compute levels (`per_decade` per factor of 10) covering the costs."""
    low, high = math.log10(min(costs)), math.log10(max(costs))
    first, last = math.floor(low * per_decade), math.ceil(high * per_decade)
    return [10 ** (k / per_decade) for k in range(first, last + 1)]


def compute_optimal(
    points: list[dict[str, Any]], x: str, per_decade: int, difficulty: str = "all"
) -> list[dict[str, Any]]:
    usable = [p for p in methods(points) if p.get(x) is not None]
    if not usable:
        return []
    table = []
    for level in budget_levels([p[x] for p in usable], per_decade):
        fitting = [p for p in usable if p[x] <= level]
        if not fitting:
            continue
        best = max(fitting, key=lambda p: (p["accuracy"], -p[x]))
        table.append(
            {
                "difficulty": difficulty,
                f"{x}_budget": level,
                **{
                    k: best.get(k)
                    for k in ("policy.name", "reward.name", "strategy.name", "strategy.selector", "strategy.n")
                },
                "accuracy": best["accuracy"],
                "accuracy_lo": best["accuracy_lo"],
                "accuracy_hi": best["accuracy_hi"],
                x: best[x],
                "curve": best["curve"],
                "source": best.get("source"),
            }
        )
    return table


def scaling_fits(curves: dict[str, list[dict[str, Any]]], x: str, messages: list[str]) -> dict[str, fits.Fit]:
    fitted = {}
    for name, members in curves.items():
        usable = [p for p in members if p.get(x) and p[x] > 0]
        if name.endswith(f"/{COVERAGE}") or len(usable) < 4:
            continue
        half_width = [(p["accuracy_hi"] - p["accuracy_lo"]) / 2 / 1.96 for p in usable]
        try:
            fitted[name] = fits.fit_saturating([p[x] for p in usable], [1 - p["accuracy"] for p in usable], half_width)
        except (ValueError, RuntimeError) as error:
            messages.append(f"no scaling fit for {name}: {error}")
    return fitted


def fit_rows(fitted: dict[str, fits.Fit], curves: dict[str, list[dict[str, Any]]], x: str) -> list[dict[str, Any]]:
    rows = []
    for name, fit in fitted.items():
        first = curves[name][0]
        rows.append(
            {
                "curve": name,
                "policy.name": first["policy.name"],
                "strategy.name": first["strategy.name"],
                "strategy.selector": first.get("strategy.selector"),
                "x": x,
                "form": fits.FORM,
                **{
                    k: getattr(fit, k)
                    for k in ("e_inf", "e_inf_se", "a", "a_se", "b", "b_se", "c0", "rmse", "n_points", "c_min", "c_max")
                },
            }
        )
    return rows


def crossover_rows(
    fitted: dict[str, fits.Fit], curves: dict[str, list[dict[str, Any]]], x: str
) -> list[dict[str, Any]]:
    """Pairs of curves that differ only in the policy: where one overtakes the other."""
    rows, names = [], sorted(fitted)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = curves[first][0], curves[second][0]
            same = all(a.get(k) == b.get(k) for k in ("strategy.name", "strategy.selector", "reward.name"))
            if not same or a["policy.name"] == b["policy.name"]:
                continue
            fa, fb = fitted[first], fitted[second]
            low, high = max(fa.c_min, fb.c_min), min(fa.c_max, fb.c_max)
            for cost in fits.crossovers(fa, fb, low, high):
                after = first if fa.predict(cost * 1.01) < fb.predict(cost * 1.01) else second
                rows.append(
                    {
                        "first": first,
                        "second": second,
                        f"{x}_crossover": cost,
                        "better_above": after,
                        "error_at_crossover": float(fa.predict(cost)),
                    }
                )
    return rows


def flops_saved_rows(
    curves: dict[str, list[dict[str, Any]]], x: str, pairs: list[tuple[str, str]] | None
) -> list[dict[str, Any]]:
    """Default pairs: every method curve against every best-of-N curve (the sampling baselines)."""
    names = [n for n in curves if not n.endswith(f"/{COVERAGE}")]
    if pairs is None:
        baselines = [n for n in names if curves[n][0]["strategy.name"] == "best_of_n"]
        pairs = [(a, b) for b in baselines for a in names if a != b]
    rows = []
    for a, b in pairs:
        for name in (a, b):
            if name not in curves:
                raise ValueError(f"--compare: no curve named '{name}' (curves: {', '.join(sorted(curves))})")
        pa = [p for p in curves[a] if p.get(x) is not None]
        pb = [p for p in curves[b] if p.get(x) is not None]
        if not pa or not pb:
            continue
        result = fits.flops_saved(
            [p[x] for p in pa], [p["accuracy"] for p in pa], [p[x] for p in pb], [p["accuracy"] for p in pb]
        )
        rows.append({"a": a, "b": b, "x": x, **result})
    return rows


def saved_sentence(row: dict[str, Any]) -> str:
    if row["saved"] is None:
        return f"{row['a']} never reaches {row['b']}'s best accuracy {row['target_accuracy']:.3f} within its measured range"
    return (
        f"{row['a']} reaches {row['b']}'s best accuracy {row['target_accuracy']:.3f} at {row['cost_a']:.3g} {row['x']} "
        f"vs {row['cost_b']:.3g}: {row['saved']:.2f}x less compute"
    )


def analyze(
    root: Path,
    x: str = "flops_total",
    per_decade: int = 2,
    curves: bool = True,
    pairs: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    if x not in COSTS:
        raise ValueError(f"--x must be one of {', '.join(COSTS)}, got '{x}'")
    root, messages = Path(root), []
    points = load_points(root, curves)
    missing = [p["curve"] for p in points if p.get(x) is None]
    if missing:
        messages.append(f"{len(missing)} point(s) have no {x} (e.g. {missing[0]}); left out of the front and tables")
    named = label_curves(points)
    front = pareto_front(methods(points), x)
    optimal = compute_optimal(points, x, per_decade)
    levels_path = root / "levels.json"
    if levels_path.exists():
        level_points = [p for p in average_seeds(read_table(levels_path)) if curves or p.get("source") == "run"]
        label_curves(level_points)
        for level in sorted({p["difficulty"] for p in level_points}):
            optimal += compute_optimal([p for p in level_points if p["difficulty"] == level], x, per_decade, level)
    fitted = scaling_fits(named, x, messages)
    tables = {
        "pareto": front,
        "compute_optimal": optimal,
        "scaling_fit": fit_rows(fitted, named, x),
        "crossover": crossover_rows(fitted, named, x),
        "flops_saved": flops_saved_rows(named, x, pairs),
    }
    suffix = "" if x == "flops_total" else f"_{x}"
    for name, rows in tables.items():
        write_table(rows, root / f"{name}{suffix}")
    return {
        "tables": tables,
        "messages": messages,
        "points": points,
        "files": [root / f"{n}{suffix}.csv" for n in tables],
    }


def print_report(result: dict[str, Any], x: str, stream: Any = sys.stdout) -> None:
    tables = result["tables"]
    print(f"Pareto front ({len(tables['pareto'])} points, {x} per problem):", file=stream)
    for p in tables["pareto"]:
        print(
            f"  {p[x]:10.3g}  acc {p['accuracy']:.3f} [{p['accuracy_lo']:.3f}, {p['accuracy_hi']:.3f}]  {p['curve']} n={p['strategy.n']}",
            file=stream,
        )
    print(f"Scaling fits, {fits.FORM} (error rate vs {x}):", file=stream)
    for f in tables["scaling_fit"]:
        print(
            f"  {f['curve']:34s} e_inf={f['e_inf']:.3f}±{f['e_inf_se']:.3f}  a={f['a']:.3f}±{f['a_se']:.3f}  "
            f"b={f['b']:.3f}±{f['b_se']:.3f}  C0={f['c0']:.3g}  rmse={f['rmse']:.3f}",
            file=stream,
        )
    for c in tables["crossover"]:
        print(
            f"  crossover: {c['first']} and {c['second']} cross at {c[f'{x}_crossover']:.3g} {x}; "
            f"{c['better_above']} is better above it",
            file=stream,
        )
    saved = sorted((r for r in tables["flops_saved"] if r["saved"] is not None), key=lambda r: -r["saved"])
    print(
        f"FLOPs saved (top {min(8, len(saved))} of {len(tables['flops_saved'])} comparisons; all in flops_saved.csv):",
        file=stream,
    )
    for row in saved[:8]:
        print(f"  {saved_sentence(row)}", file=stream)
    for message in result["messages"]:
        print(f"infscale-analyze: {message}", file=sys.stderr)


def _pair(text: str) -> tuple[str, str]:
    a, sep, b = text.partition(" vs ")
    if not sep:
        raise argparse.ArgumentTypeError(f"--compare wants 'CURVE A vs CURVE B', got '{text}'")
    return a.strip(), b.strip()


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="infscale-analyze", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--x", default="flops_total", choices=COSTS, help="the compute measure")
    parser.add_argument("--per-decade", type=int, default=2, help="compute levels per factor of 10")
    parser.add_argument("--no-curves", action="store_true", help="only real jobs, no subsampled points")
    parser.add_argument(
        "--compare",
        type=_pair,
        action="append",
        help="'simulated rebase/weighted vs sim_large best_of_n/weighted' (repeatable)",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        result = analyze(args.sweep, args.x, args.per_decade, not args.no_curves, args.compare)
    except ValueError as error:
        print(f"infscale-analyze: error: {error}", file=sys.stderr)
        sys.exit(2)
    print_report(result, args.x)
    print(f"tables in {args.sweep}: " + ", ".join(path.name for path in result["files"]))


if __name__ == "__main__":
    main()
