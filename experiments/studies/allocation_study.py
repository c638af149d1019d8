"""The allocation study (issue 17): data-set allocators against the fixed-configuration front.

On one set of problems it runs the fixed best_of_n configurations (selector x width) and the
allocators at a range of data-set pools, all through `infscale-run`'s own `run` into
resumable run folders, then compares them problem by problem:

- the fixed front: for every allocation point, the best fixed configuration whose mean
  FLOPs per problem are at most the allocation's; the accuracy difference with a paired
  bootstrap CI over problems (the same problems, resampled together);
- FLOPs to match: for every fixed configuration, the cheapest allocation point at least as
  accurate, and the ratio of their FLOPs;
- allocators against each other at equal *spent* FLOPs (experiments/studies/equal_spend.py):
  only pairs whose spends are within `--spend-tolerance`; with `--match-spend`, each
  allocation run that left more than that share of its pool unspent gets a uniform run whose
  pool is what it spent, so it has a partner;
- calibration of the probe's difficulty estimate against the true level and pass-rate bins.

    python -m infscale.experiments.studies.allocation_study --problems 600 --out runs/allocation_study

writes `study.json` there and, with --figure, the plot (docs/allocation.png).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from hydra import compose, initialize_config_module
from scipy import stats

from infscale.budgets.ledger import Ledger
from infscale.experiments.analysis import curves
from infscale.experiments.app import resolvers
from infscale.experiments.app.allocate import STATE_FILE, read_states
from infscale.experiments.app.build import build_task
from infscale.experiments.app.run import run
from infscale.experiments.stats import paired_difference
from infscale.experiments.studies.allocation_figure import figure
from infscale.experiments.studies.equal_spend import SPEND_TOLERANCE, at_equal_spend, describe, spend
from infscale.search.allocators.difficulty import estimate
from infscale.search.allocators.state import ProblemState

WIDTHS = (1, 2, 4, 8, 16, 32, 64)


def config(overrides: Iterable[str]) -> Any:
    resolvers.register()
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        return compose(config_name="config", overrides=["progress=false", *overrides])


def world(args: argparse.Namespace) -> list[str]:
    return [
        f"task={args.task}",
        f"policy={args.policy}",
        f"reward={args.reward}",
        "strategy=best_of_n",
        f"n_problems={args.problems}",
        f"seed={args.seed}",
        *args.world,
    ]


def run_points(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every run of the study (run or resumed), each as its per-problem vectors."""
    points, base = [], world(args)
    if args.fixed == "prefix":
        points += prefix_points(args, base)
    for selector in args.selectors:
        for n in WIDTHS if args.fixed == "runs" else ():
            name = f"fixed-{selector}-n{n}"
            points.append(_point(args, name, [*base, f"strategy.selector={selector}", f"strategy.n={n}"]))
            points[-1].update(kind="fixed", selector=selector, n=n)
        for allocator in args.allocators if selector in (args.allocate_selectors or args.selectors) else ():
            pools = args.selector_pools.get(f"{allocator}/{selector}", args.selector_pools.get(selector, args.pools))
            for per_problem in pools:
                total = per_problem * args.problems
                name = f"{allocator}-{selector}-{per_problem:.3g}"
                overrides = [*base, f"strategy.selector={selector}", f"allocator={allocator}"]
                if allocator == "from_sweep":
                    overrides.append(f"allocator.sweep={args.sweep.resolve()}")
                try:
                    point = _point(args, name, [*overrides, f"budget.total_flops={total:.6e}"])
                except ValueError as error:  # a pool below the allocator's minimum: said, not plotted
                    print(f"skipped {name}: {error}", flush=True)
                    continue
                points.append({**point, "kind": allocator, "selector": selector, "pool_per_problem": per_problem})
    if args.match_spend:
        points += [matched_uniform(args, base, p) for p in points if unspent(p, args.spend_tolerance)]
    return points


def unspent(point: dict[str, Any], tolerance: float) -> bool:
    """Whether an allocation run (not uniform) left more than `tolerance` of its pool unspent."""
    return point["kind"] not in ("fixed", "uniform") and point["pool_used"] < 1 - tolerance


def matched_uniform(args: argparse.Namespace, base: list[str], point: dict[str, Any]) -> dict[str, Any]:
    """uniform with a pool of what `point` spent: its partner at equal spend."""
    name = f"uniform-{point['selector']}-as-{point['name']}"
    overrides = [*base, f"strategy.selector={point['selector']}", "allocator=uniform"]
    matched = _point(args, name, [*overrides, f"budget.total_flops={point['spent']:.6e}"])
    return {
        **matched,
        "kind": "uniform",
        "selector": point["selector"],
        "pool_per_problem": point["spent"] / args.problems,
    }


def prefix_points(args: argparse.Namespace, base: list[str]) -> list[dict[str, Any]]:
    """The fixed curve of every selector in `args.selectors`, at every width up to the widest,
    from ONE weighted run at the widest width: width n is its first n solutions (`curves.subsample(subsets="prefix")`), which are
    the solutions a run at n draws (sample j is seeded seed + j whatever the batch; checked on
    the toy models by tests/test_allocation_study.py), charged as a run at n is."""
    widest = WIDTHS[-1]
    name = f"fixed-weighted-n{widest}"
    _point(args, name, [*base, "strategy.selector=weighted", f"strategy.n={widest}"])
    cfg = config([*base, "strategy.selector=weighted", f"strategy.n={widest}"])
    records = [json.loads(line) for line in (args.out / name / "results.jsonl").read_text().splitlines()]
    problems = curves.prepare(records, build_task(cfg))
    points = []
    every = range(1, widest + 1)  # prefixes are free: every width, so "the fixed run at the same FLOPs" is exact
    for point in curves.subsample(problems, every, args.selectors, None, subsets="prefix"):
        points.append(
            {
                "name": f"fixed-{point.selector}-n{point.n}",
                "folder": str(args.out / name),
                "correct": point.correct,
                "flops": point.flops_total,
                "level": [r["level"] for r in records],
                "accuracy": float(np.mean(point.correct)),
                "flops_mean": float(np.mean(point.flops_total)),
                "spent": float(np.sum(point.flops_total)),
                "pool": None,
                "pool_used": None,
                "kind": "fixed",
                "selector": point.selector,
                "n": point.n,
            }
        )
    return points


def _point(args: argparse.Namespace, name: str, overrides: list[str]) -> dict[str, Any]:
    folder = args.out / name
    if not (folder / "summary.json").exists():
        print(f"running {name}", flush=True)
        run(config(overrides), folder)
    records = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    flops = [r["flops"]["total"] for r in records]
    return {
        "name": name,
        "folder": str(folder),
        "correct": [float(r["correct"]) for r in records],
        "flops": flops,
        "level": [r["level"] for r in records],
        "accuracy": float(np.mean([r["correct"] for r in records])),
        "flops_mean": float(np.mean(flops)),
        **spend(folder, flops),
    }


def interpolated_front(fixed: list[dict[str, Any]], flops: float) -> np.ndarray | None:
    """The fixed front at `flops`, linear in log FLOPs between the two front points around it,
    per problem (a mix of the two runs' correctness vectors, so the paired bootstrap holds);
    None outside the front's range."""
    front, best = [], -1.0
    for point in sorted(fixed, key=lambda p: p["flops_mean"]):
        if point["accuracy"] > best:
            front.append(point)
            best = point["accuracy"]
    for low, high in zip(front, front[1:]):
        if low["flops_mean"] <= flops <= high["flops_mean"]:
            share = np.log(flops / low["flops_mean"]) / np.log(high["flops_mean"] / low["flops_mean"])
            return (1 - share) * np.asarray(low["correct"]) + share * np.asarray(high["correct"])
    return None


def gain(a: list[float], b: list[float]) -> dict[str, float]:
    """`gain`, `gain_lo`, `gain_hi`: the paired difference a - b over problems with its 95% interval."""
    return dict(zip(("gain", "gain_lo", "gain_hi"), paired_difference(a, b)))


def compare(points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    fixed = [p for p in points if p["kind"] == "fixed"]
    allocated = [p for p in points if p["kind"] != "fixed"]
    at_same, to_match = [], []
    for point in allocated:
        cheaper = [f for f in fixed if f["flops_mean"] <= point["flops_mean"]]
        if not cheaper:
            continue
        best = max(cheaper, key=lambda f: f["accuracy"])
        at_same.append(
            {
                "allocation": point["name"],
                "flops": point["flops_mean"],
                "spent": point["spent"],
                "pool_used": point["pool_used"],
                "accuracy": point["accuracy"],
                "best_fixed": best["name"],
                "fixed_flops": best["flops_mean"],
                "fixed_accuracy": best["accuracy"],
                **gain(point["correct"], best["correct"]),
            }
        )
        mixed = interpolated_front(fixed, point["flops_mean"])
        if mixed is not None:
            mean, low, high = paired_difference(point["correct"], list(mixed))
            at_same[-1].update(
                front_accuracy=float(np.mean(mixed)), gain_front=mean, gain_front_lo=low, gain_front_hi=high
            )
    for target in (f for f in fixed if f["n"] in WIDTHS):
        for kind in sorted({p["kind"] for p in allocated}):
            matching = [p for p in allocated if p["kind"] == kind and p["accuracy"] >= target["accuracy"]]
            if not matching:
                continue
            cheapest = min(matching, key=lambda p: p["flops_mean"])
            to_match.append(
                {
                    "fixed": target["name"],
                    "fixed_flops": target["flops_mean"],
                    "fixed_accuracy": target["accuracy"],
                    "allocation": cheapest["name"],
                    "flops": cheapest["flops_mean"],
                    "accuracy": cheapest["accuracy"],
                    "ratio": cheapest["flops_mean"] / target["flops_mean"],
                    **gain(cheapest["correct"], target["correct"]),
                }
            )
    return {"at_same_flops": at_same, "flops_to_match": to_match}


def calibration(points: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The probe's difficulty estimate (1 - agreement of the first probe_n solutions) against
    the true level and against the pass rate of the widest fixed run of the same selector."""
    task = build_task(config(world(args)))
    rows, done = [], set()
    for point in points:
        if point["kind"] != "probe_then_allocate" or point["selector"] in done:
            continue  # the probe is the same at every pool: one run per selector calibrates it
        done.add(point["selector"])
        _, saved = read_states(Path(point["folder"]) / STATE_FILE)
        cfg = config([*world(args), "allocator=probe_then_allocate"])
        probe_n = int(cfg.allocator.probe_n)
        widest = Path(
            next(
                p["folder"]
                for p in points
                if p["kind"] == "fixed" and p["selector"] == point["selector"] and p["n"] == WIDTHS[-1]
            )
        )
        widest = widest / "results.jsonl"
        passes = [
            np.mean([c["answer"] is not None and task.is_correct(c["answer"], r["reference"]) for c in r["candidates"]])
            for r in map(json.loads, widest.read_text().splitlines())
        ]
        predicted = []
        for problem in task.problems()[: args.problems]:
            nodes = ProblemState.from_dict(problem, saved[problem.id], Ledger(None, None)).samples[:probe_n]
            predicted.append(
                estimate(nodes, point["selector"], cfg.strategy.aggregation, task, cfg.allocator.prior)["difficulty"]
            )
        levels = np.asarray(point["level"], dtype=float)
        bins = np.digitize(passes, [0.2, 0.5, 0.8])  # pass@1 bins: <.2, .2-.5, .5-.8, >=.8
        rows.append(
            {
                "run": point["name"],
                "probe_n": probe_n,
                "spearman_level": float(stats.spearmanr(predicted, levels).statistic),
                "spearman_pass": float(stats.spearmanr(predicted, passes).statistic),
                "by_level": {
                    int(v): float(np.mean([d for d, lv in zip(predicted, levels) if lv == v]))
                    for v in sorted(set(levels))
                },
                "by_pass_bin": {
                    ["<0.2", "0.2-0.5", "0.5-0.8", ">=0.8"][b]: float(
                        np.mean([d for d, k in zip(predicted, bins) if k == b])
                    )
                    for b in sorted(set(bins.tolist()))
                },
            }
        )
    return rows


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="simulated")
    parser.add_argument("--policy", default="simulated")
    parser.add_argument("--reward", default="simulated")
    parser.add_argument("--problems", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--selectors", nargs="+", default=["weighted", "majority"])
    parser.add_argument(
        "--allocate-selectors", nargs="+", default=None, help="selectors of the allocators (default: all)"
    )
    parser.add_argument("--allocators", nargs="+", default=["probe_then_allocate", "uniform"])
    parser.add_argument(
        "--pools",
        nargs="+",
        type=float,
        default=[4e12, 8e12, 16e12, 32e12, 64e12],
        help="data-set pools, as FLOPs per problem (total = this x problems)",
    )
    parser.add_argument(
        "--fixed",
        choices=["runs", "prefix"],
        default="runs",
        help="fixed curve: a run per (selector, n), or the prefixes of one weighted run at n=64",
    )
    parser.add_argument(
        "--selector-pools",
        nargs="*",
        default=[],
        metavar="[ALLOCATOR/]SELECTOR=POOL,...",
        help="other pools for one selector, or one allocator's selector (majority=1e8,2e8: majority voting "
        "costs no PRM FLOPs; from_sweep/weighted= : none)",
    )
    parser.add_argument("--sweep", type=Path, default=None, help="collected multirun for allocator from_sweep")
    parser.add_argument(
        "--spend-tolerance",
        type=float,
        default=SPEND_TOLERANCE,
        help="allocators are compared where their spent FLOPs differ by at most this share",
    )
    parser.add_argument(
        "--match-spend",
        action="store_true",
        help="give every allocation run that left its pool unspent a uniform run at what it spent",
    )
    parser.add_argument("--world", nargs="*", default=[], help="more Hydra overrides for every run")
    parser.add_argument("--out", type=Path, default=Path("runs/allocation_study"))
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args(list(argv) if argv is not None else None)
    args.selector_pools = {
        key: [float(v) for v in values.split(",") if v]
        for key, values in (item.split("=", 1) for item in args.selector_pools)
    }
    points = run_points(args)
    result = {
        "args": {k: str(v) for k, v in vars(args).items()},
        **compare(points),
        "spend_tolerance": args.spend_tolerance,
        "at_equal_spend": at_equal_spend(points, args.spend_tolerance),
        "calibration": calibration(points, args),
        "points": [{k: v for k, v in p.items() if k not in ("correct", "flops", "level")} for p in points],
    }
    (args.out / "study.json").write_text(json.dumps(result, indent=2))
    for row in result["at_same_flops"]:
        front = (
            f"; front there {row['front_accuracy']:.3f}: {row['gain_front']:+.3f} "
            f"[{row['gain_front_lo']:+.3f}, {row['gain_front_hi']:+.3f}]"
            if "gain_front" in row
            else ""
        )
        print(
            f"{row['allocation']:>32}: {row['accuracy']:.3f} at {row['flops']:.3g} "
            f"({row['spent']:.3g} spent, {row['pool_used']:.0%} of its pool) vs {row['best_fixed']} "
            f"{row['fixed_accuracy']:.3f} at {row['fixed_flops']:.3g}: {row['gain']:+.3f} "
            f"[{row['gain_lo']:+.3f}, {row['gain_hi']:+.3f}]{front}"
        )
    for row in result["flops_to_match"]:
        print(
            f"{row['fixed']:>22} ({row['fixed_accuracy']:.3f}, {row['fixed_flops']:.3g}) matched by "
            f"{row['allocation']} at {row['ratio']:.2f}x ({row['gain']:+.3f} [{row['gain_lo']:+.3f}, {row['gain_hi']:+.3f}])"
        )
    print(f"at equal spent FLOPs (within {args.spend_tolerance:.0%}):")
    for row in result["at_equal_spend"]:
        print("  " + describe(row))
    print(json.dumps(result["calibration"], indent=1))
    if args.figure:
        figure(points, args.figure, f"{args.task}: {args.problems} problems, allocation vs fixed best_of_n", WIDTHS)


if __name__ == "__main__":
    main()
