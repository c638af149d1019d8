"""The verifier-quality crossover: how good must the verifier be before tree search beats
PRM-weighted sampling at equal compute?

    python -m infscale.experiments.studies.verifier_crossover          # every stage; rerun to resume or extend
    python -m infscale.experiments.studies.verifier_crossover --problems 500   # the same folders, more problems

1. runs (`infscale-run -m +experiment=verifier_crossover`, normal run folders under
   `<root>/runs`, resumable): each ladder policy x each verifier x REBASE and beam at every
   width in `--ns`, and one weighted best-of-N job at the widest width, whose samples give the
   sampling curve at every smaller width (`analysis/curves.py`). The verifiers: the exact
   checker degraded to chosen quality (`reward=noisy_oracle`, each `--label-noise` at a fixed
   `--score-noise`, charged as toy_sum_prm) and the learned PRMs (`--prms`), every prefix
   cache large enough never to evict;
2. every verifier's step AUC on one held-out ProcessBench-style set (`verifier_auc.py`);
3. per policy, strategy and width: search - weighted sampling at search's mean `flops.total`
   with a paired interval (`analysis/crossover.py`), and the step AUC above which search
   leads, from the noisy-oracle ladder, with its bootstrap interval; the learned PRMs are
   placed against it;
4. CSVs into `--results`, the figure and the table into `--docs`.

Task seeds: the runs use toy_sum seed 4, the AUC set seed 5 (the ladder trains on seeds
>= 1000000 and holds out 0 and 1; the PRM lessons use 2 and 3).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infscale.experiments.analysis import collect
from infscale.experiments.analysis.crossover import crossing_interval, equal_compute_correct, zero_crossing
from infscale.experiments.app.build import load
from infscale.experiments.stats import draws_summary, problem_draws
from infscale.experiments.studies import verifier_auc
from infscale.experiments.studies.demo import sweep
from infscale.tasks.toy_arith import CHECKPOINTS

PRESET = "verifier_crossover"
POLICIES = ("toy_sum_xs", "toy_sum_s", "toy_sum_m")
SEARCH = ("rebase", "beam")
RUN_SEED, AUC_SEED = 4, 5
CACHE_MB = 2048  # per prefix cache; a run of this grid stores far less, so nothing is evicted
NOISY = "noisy_oracle_toy_sum_prm"
RERUN = "python -m infscale.experiments.studies.verifier_crossover"
DOCS = Path(__file__).resolve().parents[2] / "docs"
RESULTS = Path(__file__).resolve().parents[2] / "experiments" / "results"


@dataclass(frozen=True)
class Grid:
    problems: int = 100
    label_noise: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4)
    score_noise: float = 0.3
    prms: tuple[str, ...] = ("toy_sum_prm", "toy_sum_prm_xs", "toy_sum_prm_lessons")
    strategies: tuple[str, ...] = SEARCH
    ns: tuple[int, ...] = (4, 16, 64)
    policies: tuple[str, ...] = POLICIES
    auc_problems: int = 100
    auc_samples: int = 3
    resamples: int = 1000

    @property
    def sampling_n(self) -> int:
        """Twice the widest search: a search run costs more than sampling at its own width
        (its PRM calls), and the sampling curve must reach its compute."""
        return 2 * max(self.ns)


def verifier_name(reward: str, label_noise: Any = None) -> str:
    """`noisy_oracle_toy_sum_prm@0.1` for a noisy level, the reward's name for a learned PRM."""
    return f"{NOISY}@{float(label_noise):g}" if reward == NOISY else reward


def run_grid(grid: Grid, root: Path, jobs: int = 1) -> None:
    """The sweeps, noisy-oracle levels and learned PRMs each with their search and sampling
    jobs; `jobs` > 1 runs that many at once (joblib), 1 runs them in one process."""
    launcher = [f"hydra.launcher.n_jobs={jobs}"] if jobs > 1 else ["hydra/launcher=basic"]
    common = [
        *launcher,
        f"hydra.sweep.dir={root / 'runs'}",
        f"n_problems={grid.problems}",
        f"policy={','.join(grid.policies)}",
        f"policy.cache_mb={CACHE_MB}",
    ]
    noisy = [f"reward={NOISY}", f"reward.label_noise={','.join(f'{p:g}' for p in grid.label_noise)}"]
    noisy.append(f"reward.score_noise={grid.score_noise:g}")
    learned = [
        f"reward={','.join(grid.prms)}",
        f"++reward.cache_mb={CACHE_MB}",
    ]  # ++: the sweep-level config is the noisy one
    search = [f"strategy={','.join(grid.strategies)}", f"strategy.n={','.join(map(str, grid.ns))}"]
    sampling = ["strategy=best_of_n", "strategy.selector=weighted", f"strategy.n={grid.sampling_n}"]
    for verifiers in (noisy, learned) if grid.prms else (noisy,):
        for kind in (sampling, search):
            sweep(Path.cwd(), PRESET, *common, *verifiers, *kind, rerun=RERUN)


def measure_auc(grid: Grid, root: Path) -> dict[str, dict[str, Any]]:
    """verifier -> policy -> step AUC and its replicates (`verifier_auc.auc_table`), on every
    ladder policy's solutions whichever policies the runs sweep."""
    folder = root / "auc"
    items = verifier_auc.auc_set(
        folder / "set", [CHECKPOINTS / p for p in POLICIES], grid.auc_problems, grid.auc_samples, AUC_SEED
    )
    task = load("task", "toy_sum", seed=AUC_SEED, n=grid.auc_problems)
    verifiers = {}
    for p in grid.label_noise:
        reward = load("reward", NOISY, task=task, label_noise=p, score_noise=grid.score_noise)
        cache = f"{verifier_name(NOISY, p)}_score{grid.score_noise:g}"
        verifiers[verifier_name(NOISY, p)] = verifier_auc.scored(folder, cache, items, reward)
    for name in grid.prms:
        reward = load("reward", name, task=task)
        verifiers[name] = verifier_auc.scored(folder, name, items, reward)
    table = folder / f"table_score{grid.score_noise:g}.json"
    return verifier_auc.cached_table(table, verifiers, POLICIES, grid.resamples)


def _verifier(row: dict[str, Any]) -> str:
    return verifier_name(str(row["reward.name"]), row.get("reward.label_noise"))


def _correct(collection: collect.Collection, point: str, problems: Sequence[str]) -> np.ndarray:
    entry = collection.outcomes[point]
    where = {pid: i for i, pid in enumerate(entry["problem_id"])}
    return np.array([entry["correct"][where[pid]] for pid in problems], dtype=float)


def comparisons(collection: collect.Collection, grid: Grid) -> list[dict[str, Any]]:
    """Per policy, verifier, strategy and width: search - weighted sampling at search's compute,
    per problem (`diff`, on the problems every job of the policy finished)."""
    out = []
    for policy in grid.policies:
        rows = [r for r in collection.rows if r["policy.name"] == policy and r["strategy.name"] in grid.strategies]
        curve = [
            c
            for c in collection.rows + collection.curves
            if c["policy.name"] == policy and c["strategy.name"] == "best_of_n" and c["strategy.selector"] == "weighted"
        ]
        points = [r["point"] for r in rows] + [c["point"] for c in curve]
        if not rows or not curve:
            continue
        common = sorted(set.intersection(*(set(collection.outcomes[p]["problem_id"]) for p in points)))

        for row in rows:
            mine = sorted((c for c in curve if _verifier(c) == _verifier(row)), key=lambda c: int(c["strategy.n"]))
            if not mine:
                continue
            sampled = equal_compute_correct(
                [c["flops_total"] for c in mine],
                [_correct(collection, c["point"], common) for c in mine],
                row["flops_total"],
            )
            search = _correct(collection, row["point"], common)
            out.append(
                {
                    "policy": policy,
                    "verifier": _verifier(row),
                    "strategy": row["strategy.name"],
                    "n": int(row["strategy.n"]),
                    "flops_total": row["flops_total"],
                    "accuracy": float(search.mean()),
                    "sampling_accuracy": None if sampled is None else float(sampled.mean()),
                    "problems": len(common),
                    "diff": None if sampled is None else search - sampled,
                }
            )
    return out


def summarise(points: list[dict[str, Any]], aucs: dict[str, dict[str, Any]], grid: Grid) -> tuple[list, list]:
    """(point rows, threshold rows): each comparison with its AUC and paired interval; per
    policy, strategy and width the noisy ladder's crossing with its interval."""
    rows, thresholds = [], []
    draws_by_size: dict[int, np.ndarray] = {}
    for point in points:
        auc = aucs[point["verifier"]][point["policy"]]
        row = {k: v for k, v in point.items() if k != "diff"}
        row.update(
            step_auc=auc["auc"], auc_lo=float(np.nanquantile(auc["replicates"], 0.025)),
            auc_hi=float(np.nanquantile(auc["replicates"], 0.975)), diff=None, diff_lo=None, diff_hi=None,
        )  # fmt: skip
        if point["diff"] is not None:
            size = len(point["diff"])
            draws = draws_by_size.setdefault(size, problem_draws(size, grid.resamples))
            row["diff"], row["diff_lo"], row["diff_hi"] = draws_summary(point["diff"], draws)
            point["replicates"] = point["diff"][draws].mean(axis=1)
        rows.append(row)
    for policy in grid.policies:
        for strategy in grid.strategies:
            for n in grid.ns:
                ladder = [
                    p
                    for p in points
                    if (p["policy"], p["strategy"], p["n"]) == (policy, strategy, n)
                    and p["verifier"].startswith(NOISY)
                    and p["diff"] is not None
                ]
                if len(ladder) < 2:
                    continue
                x = [aucs[p["verifier"]][policy]["auc"] for p in ladder]
                y = [float(p["diff"].mean()) for p in ladder]
                x_reps = np.column_stack([aucs[p["verifier"]][policy]["replicates"] for p in ladder])
                y_reps = np.column_stack([p["replicates"] for p in ladder])
                low, high, share = crossing_interval(x_reps, y_reps)
                thresholds.append(
                    {
                        "policy": policy, "strategy": strategy, "n": n, "threshold_auc": zero_crossing(x, y),
                        "lo": low, "hi": high, "share_in_range": share, "levels": len(ladder),
                        "problems": ladder[0]["problems"],
                        **{f"{prm}_auc": aucs[prm][policy]["auc"] for prm in grid.prms},
                    }
                )  # fmt: skip
    return rows, thresholds


def parse(argv: Sequence[str] | None) -> tuple[Grid, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Grid()
    parser.add_argument("--problems", type=int, default=defaults.problems, help="toy_sum problems per run (seed 4)")
    parser.add_argument("--label-noise", type=float, nargs="+", default=list(defaults.label_noise))
    parser.add_argument("--score-noise", type=float, default=defaults.score_noise)
    parser.add_argument("--prms", nargs="*", default=list(defaults.prms), help="learned PRMs (reward configs)")
    parser.add_argument("--strategies", nargs="+", choices=SEARCH, default=list(defaults.strategies))
    parser.add_argument("--ns", type=int, nargs="+", default=list(defaults.ns), help="search widths")
    parser.add_argument("--policies", nargs="+", choices=POLICIES, default=list(defaults.policies))
    parser.add_argument("--auc-problems", type=int, default=defaults.auc_problems, help="AUC set problems (seed 5)")
    parser.add_argument("--auc-samples", type=int, default=defaults.auc_samples)
    parser.add_argument("--resamples", type=int, default=defaults.resamples)
    parser.add_argument("--root", type=Path, default=Path("multirun") / PRESET, help="working folder (resumable)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the collected CSVs go")
    parser.add_argument("--docs", type=Path, default=DOCS, help="where the figure and table go")
    parser.add_argument("--no-runs", action="store_true", help="collect what is on disk, start no run")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (joblib); 1: one process, in turn")
    args = parser.parse_args(argv)
    for p in args.label_noise:
        if not 0.0 <= p <= 1.0:
            parser.error(f"--label-noise {p}: each level must lie in [0, 1]")
    if len(args.label_noise) < 2:
        parser.error("--label-noise: at least two levels, or there is no crossing to find")
    if min(args.ns) < 1 or args.problems < 1:
        parser.error(f"--ns and --problems must be >= 1 (got {args.ns}, {args.problems})")
    grid = Grid(
        args.problems, tuple(sorted(args.label_noise)), args.score_noise, tuple(args.prms), tuple(args.strategies),
        tuple(sorted(set(args.ns))), tuple(args.policies), args.auc_problems, args.auc_samples, args.resamples,
    )  # fmt: skip
    return grid, args


def main(argv: Sequence[str] | None = None) -> None:
    grid, args = parse(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    if not args.no_runs:
        run_grid(grid, args.root.resolve(), args.jobs)
    aucs = measure_auc(grid, args.root)
    collection = collect.collect(args.root / "runs")
    for message in collection.messages:
        print(message, file=sys.stderr)
    rows, thresholds = summarise(comparisons(collection, grid), aucs, grid)
    from infscale.experiments.studies.verifier_crossover_report import write_report

    for path in write_report(rows, thresholds, aucs, grid, args.results, args.docs):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
