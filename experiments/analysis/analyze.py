"""`infscale-analyze <sweep dir>`: Pareto front, compute-optimal table, scaling fits, FLOPs saved.

    infscale-analyze multirun/pareto_sim [--x flops_total|flops_paper|tokens_generated|wall_s]

Reads what `infscale-collect` wrote (`collected.json`, `curves.json`, `levels.json`,
`problems.json`) and writes
  pareto.csv           the non-dominated points by (x lower, accuracy higher);
  compute_optimal.csv  per log-spaced compute budget the winner and every configuration tied
                       with it (`tied_with`: not significantly worse, paired bootstrap), over
                       all problems, per difficulty and per model size (`group`);
  optimal_size.csv     per budget the compute-optimal policy (model size) and the sizes tied with it;
  scaling_fit.csv      per curve, `fits.FORM` fitted to the error rate, bootstrap intervals
                       (refit per replicate) and `flags` (experiments/analysis/robust.py);
  crossover.csv        compute at which two unflagged fits of one strategy cross, with interval;
  flops_saved.csv      "A reaches the strongest baseline's best accuracy at `ratio` x the compute",
                       paired interval (experiments/analysis/saved.py);
  verdicts.csv         every configuration that is not a baseline against the strongest baseline
                       (greedy, majority, PRM-weighted, PRM best-of-n of every policy) at no more
                       compute, in both FLOP conventions (experiments/analysis/baseline.py);
  compare.csv          "compute to reach" for the pairs given with --compare.
All statistics are paired bootstraps over problems with seeds as a second level
(experiments/stats.py's Resampler; experiments/analysis/paired.py). With `--x` other than flops_total the file names end in
`_<x>` (pareto_wall_s.csv, ...). Several seeds of one configuration are averaged into one
point; their spread is kept (accuracy_seed_min/max/sd) and their interval resamples seeds too.
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

from infscale.experiments.analysis import baseline, fits, robust
from infscale.experiments.analysis.collect import METRICS, read_table, write_table
from infscale.experiments.analysis.curves import COVERAGE
from infscale.experiments.analysis.optimal import (
    budget_levels,  # noqa: F401  (re-exported for callers of the old API)
    methods,
    optimal_rows,
    optimal_size,
    per_model_size,
    size_fit,
)
from infscale.experiments.analysis.outcomes import Stats
from infscale.experiments.analysis.saved import flops_saved_rows, saved_sentence, trivial_saving
from infscale.experiments.app import errors
from infscale.experiments.stats import DRAWS, mean_interval

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
    "accuracy_seed_sd",
    "curve",
    "point",
    "points",
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
            accuracy_seed_sd=float(np.std(accuracies, ddof=1)) if len(members) > 1 else 0.0,
        )
        if all(m.get("point") for m in members):
            point["points"] = ";".join(str(m["point"]) for m in members)
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


def follows_width(points: list[dict[str, Any]], column: str, columns: list[str]) -> bool:
    """Whether `column` changes only with the width inside every curve, as beam search's default
    `beam_width = min(4, n)` does: then it is part of the curve's x axis, not a curve of its own.
    A key swept at a fixed width (two values at one n) is a curve of its own."""
    rest = [c for c in columns if c != column]
    at_width: dict[tuple, set[tuple]] = {}
    along_curve: dict[tuple, set[tuple]] = {}
    for point in points:
        value = _key(point, [column])
        at_width.setdefault(_key(point, [*rest, "strategy.n"]), set()).add(value)
        along_curve.setdefault(_key(point, rest), set()).add(value)
    return all(len(v) == 1 for v in at_width.values()) and any(len(v) > 1 for v in along_curve.values())


def label_curves(points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Points grouped into curves (all config but seed and width), each sorted by width."""
    columns = [c for c in config_columns(points) if c not in CURVE_DROP]
    columns = [c for c in columns if not follows_width(points, c, columns)]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for point in points:
        groups.setdefault(_key(point, columns), []).append(point)
    base = ("policy.name", "strategy.name", "strategy.selector", "allocator.name")
    curves: dict[str, list[dict[str, Any]]] = {}
    for members in groups.values():
        siblings = [g for g in groups.values() if _key(g[0], base) == _key(members[0], base)]
        extra = [c for c in columns if c not in base and len({_key(g[0], [c]) for g in siblings}) > 1]
        # reward.name=x already says what reward.correct.dist=... would: keep the name only
        named = {c.removesuffix(".name") for c in extra if c.endswith(".name")}
        extra = [c for c in extra if c.endswith(".name") or not any(c.startswith(g + ".") for g in named)]
        members.sort(key=lambda p: (p["strategy.n"], _pool(p), p.get("source") != "run"))
        for point in members:
            point["curve"] = curve_name(point, extra)
        curves[members[0]["curve"]] = members
    return curves


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


def seed_intervals(points: list[dict[str, Any]], stats: Stats) -> None:
    """Points averaged over seeds: their accuracy interval resamples problems and seeds."""
    for point in points:
        if point.get("n_seeds", 1) > 1:
            outcomes = stats.outcomes(point)
            _, point["accuracy_lo"], point["accuracy_hi"] = mean_interval(stats.resampler(outcomes.problems), outcomes)


def analyze(
    root: Path,
    x: str = "flops_total",
    per_decade: int = 2,
    curves: bool = True,
    pairs: list[tuple[str, str]] | None = None,
    draws: int = DRAWS,
    fit_draws: int = robust.FIT_DRAWS,
) -> dict[str, Any]:
    if x not in COSTS:
        raise ValueError(f"--x must be one of {', '.join(COSTS)}, got '{x}'")
    root, messages = Path(root), []
    points = load_points(root, curves)
    stats = _stats(root, draws, messages)
    if stats is not None:
        seed_intervals(points, stats)
        messages += stats.short_runs()
    missing = [p["curve"] for p in points if p.get(x) is None]
    if missing:
        messages.append(f"{len(missing)} point(s) have no {x} (e.g. {missing[0]}); left out of the front and tables")
    named = label_curves(points)
    front = pareto_front(methods(points), x)
    optimal = optimal_rows(points, x, per_decade, stats)
    levels_path = root / "levels.json"
    if levels_path.exists():
        level_points = [p for p in average_seeds(read_table(levels_path)) if curves or p.get("source") == "run"]
        label_curves(level_points)
        for level in sorted({p["difficulty"] for p in level_points}):
            mine = [p for p in level_points if p["difficulty"] == level]
            optimal += optimal_rows(mine, x, per_decade, stats, difficulty=level)
    optimal += per_model_size(points, x, per_decade, stats)
    sizes = optimal_size(optimal, points)
    fitted = {
        name: robust.robust_fit(name, members, x, stats, fit_draws)
        for name, members in named.items()
        if not name.endswith(f"/{COVERAGE}")
    }
    tables = {
        "pareto": front,
        "compute_optimal": optimal,
        "optimal_size": sizes,
        "scaling_fit": [robust.fit_row(f, named[n][0]) for n, f in fitted.items()],
        "crossover": robust.crossover_rows(fitted, named),
        "flops_saved": flops_saved_rows(named, x, None, stats),
        "verdicts": baseline.verdict_rows(methods(points), x, stats),
    }
    if pairs:
        tables["compare"] = flops_saved_rows(named, x, pairs, stats)
    suffix = "" if x == "flops_total" else f"_{x}"
    for name, rows in tables.items():
        write_table(rows, root / f"{name}{suffix}")
    return {
        "tables": tables,
        "messages": messages,
        "points": points,
        "fits": fitted,
        "size_fit": size_fit(sizes),
        "files": [root / f"{n}{suffix}.csv" for n in tables],
    }


def _stats(root: Path, draws: int, messages: list[str]) -> Stats | None:
    try:
        return Stats(root, draws)
    except ValueError as error:
        messages.append(f"no paired statistics ({error}); winners are point estimates, fits are not bootstrapped")
        return None


def print_report(result: dict[str, Any], x: str, stream: Any = sys.stdout) -> None:
    tables = result["tables"]
    print(f"Pareto front ({len(tables['pareto'])} points, {x} per problem):", file=stream)
    for p in tables["pareto"]:
        print(
            f"  {p[x]:10.3g}  acc {p['accuracy']:.3f} [{p['accuracy_lo']:.3f}, {p['accuracy_hi']:.3f}]  {p['curve']} n={p['strategy.n']}",
            file=stream,
        )
    print(
        "Compute-optimal (all problems; tied: not significantly worse, paired bootstrap; each winner against "
        "the strongest baseline at no more compute):",
        file=stream,
    )
    for r in tables["compute_optimal"]:
        if r["difficulty"] == "all" and r["group"] == "all":
            ties = f"  tied: {r['tied_curves']}" if r["tied_curves"] else ""
            print(
                f"  {x} <= {r['budget']:.3g}: {r['best']} acc {r['accuracy']:.3f} "
                f"[{r['accuracy_lo']:.3f}, {r['accuracy_hi']:.3f}]{ties}\n      {baseline.phrase(r, x)}",
                file=stream,
            )
    print(f"Scaling fits, {fits.FORM} (error rate vs {x}; bootstrap 95% intervals):", file=stream)
    for f in tables["scaling_fit"]:
        if f["e_inf"] is None:
            print(f"  {f['curve']:34s} no fit ({f['flags']})", file=stream)
            continue
        ranges = "  ".join(f"{k}={f[k]:.3g}" + _range(f, k) for k in robust.PARAMS)
        print(f"  {f['curve']:34s} {ranges}  {('FLAGGED ' + f['flags']) if f['flags'] else 'ok'}", file=stream)
    for c in tables["crossover"]:
        print(
            f"  crossover: {c['first']} and {c['second']} cross at {c['crossover']:.3g} {x}{_range(c, 'crossover')}; "
            f"{c['better_above']} is better above it",
            file=stream,
        )
    saved = sorted(
        (r for r in tables["flops_saved"] if r["ratio"] is not None), key=lambda r: (trivial_saving(r), r["ratio"])
    )
    print(
        f"Compute to reach (best {min(8, len(saved))} of {len(tables['flops_saved'])}; flops_saved.csv):", file=stream
    )
    for row in saved[:8]:
        print(f"  {saved_sentence(row)}", file=stream)
    for row in tables.get("compare", []):
        print(f"  compared: {saved_sentence(row)}", file=stream)
    for message in result["messages"]:
        print(f"infscale-analyze: {message}", file=sys.stderr)


def _range(row: dict[str, Any], key: str) -> str:
    low, high = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    return "" if low is None else f" [{low:.3g}, {high:.3g}]"


def _pair(text: str) -> tuple[str, str]:
    a, sep, b = text.partition(" vs ")
    if not sep:
        raise argparse.ArgumentTypeError(f"--compare wants 'CURVE A vs CURVE B', got '{text}'")
    return a.strip(), b.strip()


@errors.command("infscale-analyze")
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
        help="'simulated rebase/weighted vs sim_large best_of_n/weighted' (repeatable; written to compare.csv)",
    )
    parser.add_argument("--draws", type=int, default=DRAWS, help="bootstrap replicates (paired statistics)")
    parser.add_argument("--fit-draws", type=int, default=robust.FIT_DRAWS, help="bootstrap refits per scaling fit")
    args = parser.parse_args(None if argv is None else list(argv))
    result = analyze(args.sweep, args.x, args.per_decade, not args.no_curves, args.compare, args.draws, args.fit_draws)
    print_report(result, args.x)
    print(f"tables in {args.sweep}: " + ", ".join(path.name for path in result["files"]))


if __name__ == "__main__":
    main()
