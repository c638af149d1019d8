"""Scheduling overhead of data-set allocation (issue 17), simulated world.

    python -m infscale.experiments.bench.allocation [--problems 300] [--n 16] [--repeats 3]

Side by side in one process, each run through `infscale-run`'s own `run` into a fresh
folder, repeated and the medians kept:

- `fixed`: best_of_n (weighted) at width n, no pool;
- `uniform`: the same configuration through the allocator machinery, with a pool of exactly
  n solutions per problem (the same samples; the difference is the pool reservation, the
  wave, the saved state);
- `probe_then_allocate`: at a pool of 2n solutions per problem (worst case).

Scheduling overhead = time in the allocator's decisions plus time saving the state
(serialising and writing the `allocation.jsonl` journal, both as the run's summary reports them) over the
run's wall time; for uniform also its wall over the fixed run's.
The simulated backends cost almost nothing, so these shares are upper bounds of what a run
on a real model would see.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from infscale.experiments.app.build import build
from infscale.experiments.app.run import run
from infscale.experiments.studies.allocation_study import config
from infscale.search.allocators.cost import worst_case

WORLDS = {
    "simulated": ["task=simulated", "policy=simulated", "reward=simulated"],
    "toy": ["task=toy_arith", "policy=toy_small", "reward=toy_prm"],  # the trained toy models, on CPU
}


def timed(overrides: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        summary = run(config(overrides), Path(folder))
        wall = time.perf_counter() - started
    allocation = summary.get("allocation", {})
    return {
        "wall": wall,
        "decisions": allocation.get("scheduling_s", 0.0),
        "saving": allocation.get("saving_s", 0.0),
        "accuracy": summary["accuracy"],
        "waves": allocation.get("waves", 0),
        "solutions": allocation.get("samples_mean"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=300)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--world", choices=sorted(WORLDS), default="simulated")
    args = parser.parse_args()
    base = [*WORLDS[args.world], "strategy=best_of_n", f"n_problems={args.problems}"]
    parts = build(config([*base, f"strategy.n={args.n}"]))
    exact = sum(
        worst_case(parts.engine, p, True, 25).flops(args.n, 256) for p in parts.task.problems()[: args.problems]
    )
    variants = {
        "fixed": [*base, f"strategy.n={args.n}"],
        "uniform": [*base, "allocator=uniform", f"budget.total_flops={exact!r}"],
        "probe_then_allocate": [*base, "allocator=probe_then_allocate", f"budget.total_flops={2 * exact!r}"],
    }
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for name, overrides in variants.items():
            runs[name].append(timed(overrides))
    fixed_wall = statistics.median(r["wall"] for r in runs["fixed"])
    print(
        f"{platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}; {args.world}, "
        f"{args.problems} problems, n={args.n}, medians of {args.repeats}"
    )
    print(
        "| run | solutions / problem | waves | wall s | decisions s | saving state s | overhead share | wall / fixed |"
    )
    print("|---|---|---|---|---|---|---|---|")
    result = {}
    for name, samples in runs.items():
        wall = statistics.median(r["wall"] for r in samples)
        decisions = statistics.median(r["decisions"] for r in samples)
        saving = statistics.median(r["saving"] for r in samples)
        share = (decisions + saving) / wall
        result[name] = {"wall": wall, "decisions": decisions, "saving": saving, "share": share}
        print(
            f"| {name} | {samples[0]['solutions'] or args.n:.1f} | {samples[0]['waves']} | {wall:.2f} | {decisions:.3f} | {saving:.3f} | {100 * share:.1f}% "
            f"| {wall / fixed_wall:.2f} |"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
