"""What subsampled best-of-N curves save: one run at N_max against a real run at every width.

    python experiments/bench/curves.py [--problems 100] [--n-max 64]

Both give the majority and weighted curves at n = 1, 2, 4, ..., N_max on the simulated
world. "Real" runs every (selector, n) job; "subsampled" runs one weighted job at N_max and
derives the rest (experiments/analysis/curves.py). Reports backend FLOPs and wall time of each, and
how the two curves agree: exactly per problem with first-n subsets (`prefix`), and within
the real run's 95% CI with random subsets (`bootstrap`, what infscale-collect uses).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_module

from infscale.experiments.analysis import curves
from infscale.experiments.app import resolvers
from infscale.experiments.app.build import build_task
from infscale.experiments.app.run import run


def _config(*overrides: str):
    resolvers.register()
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        return compose(
            config_name="config",
            overrides=[
                "progress=false",
                "task=simulated",
                "policy=simulated",
                "reward=simulated",
                "strategy=best_of_n",
                *overrides,
            ],
        )


def _job(folder: Path, problems: int, n: int, selector: str) -> tuple[dict, list[dict], float, object]:
    cfg = _config(f"n_problems={problems}", f"strategy.n={n}", f"strategy.selector={selector}")
    started = time.perf_counter()
    summary = run(cfg, folder)
    records = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    return summary, records, time.perf_counter() - started, cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--n-max", type=int, default=64)
    args = parser.parse_args()
    widths = curves.powers_of_two(args.n_max)
    with tempfile.TemporaryDirectory() as tmp:
        real, real_flops, real_wall = {}, 0.0, 0.0
        for selector in ("majority", "weighted"):
            for n in widths:
                summary, records, wall, _ = _job(Path(tmp) / f"{selector}-{n}", args.problems, n, selector)
                real[selector, n] = (summary, records)
                real_flops += summary["flops_total"] * summary["n_problems"]
                real_wall += wall
        summary, records, wall, cfg = _job(Path(tmp) / "wide", args.problems, args.n_max, "weighted")
        started = time.perf_counter()
        problems = curves.prepare(records, build_task(cfg))
        # compute.reuse charges one prompt prefill per expansion, however the calls were split
        points = curves.subsample(problems, widths, ["majority", "weighted"], None)
        sub_wall = wall + time.perf_counter() - started
        prefix = curves.subsample(problems, widths, ["majority", "weighted"], None, subsets="prefix")
    sub_flops = summary["flops_total"] * summary["n_problems"]
    exact = sum(p.correct == [float(r["correct"]) for r in real[p.selector, p.n][1]] for p in prefix)
    within = sum(
        real[p.selector, p.n][0]["accuracy_lo"] <= p.summary()["accuracy"] <= real[p.selector, p.n][0]["accuracy_hi"]
        for p in points
    )
    print(f"machine: {platform.machine()}, {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print(f"{args.problems} problems, widths {widths}, selectors majority + weighted ({len(real)} points)")
    print("| method | jobs | backend FLOPs | wall s |")
    print("|---|---|---|---|")
    print(f"| real run per point | {len(real)} | {real_flops:.3g} | {real_wall:.1f} |")
    print(f"| one run at n={args.n_max} + subsampling | 1 | {sub_flops:.3g} | {sub_wall:.1f} |")
    print(f"FLOPs ratio {real_flops / sub_flops:.2f}x, wall ratio {real_wall / sub_wall:.2f}x")
    print(f"prefix subsets identical to the real run per problem: {exact}/{len(prefix)} points")
    print(f"bootstrap estimate inside the real run's 95% CI: {within}/{len(points)} points")


if __name__ == "__main__":
    main()
