"""Lockstep against continuous scheduling on vLLM (issue 29), paired in one process.

    python experiments/bench/vllm_schedulers.py [--problems 100] [--n 16] [--repeats 4] [--json PATH] [override ...]

The toy world of the vLLM benchmarks (`vllm_world.py`: `policy=vllm_toy_small reward=toy_prm`,
REBASE n = `--n` over the first `--problems` toy problems), one `vllm.LLM` for all runs. Each
repeat runs `engine.scheduler=lockstep` and `=continuous` in alternating order (lockstep first
in odd repeats), each with a fresh reward model and vLLM's prefix cache emptied. Pass
`policy.in_process=false` to run vLLM's engine core in its own process
(`VLLM_ENABLE_V1_MULTIPROCESSING=1`), where a `generate` call waits on a socket, outside the
GIL, for the whole of its work; in process (the toy config's default) the engine core's
Python runs in this process and holds the GIL while it schedules and samples.

Reported per run: wall time, seconds inside `generate` and the reward model's `score`, the
CPU time of this process and its children (vLLM's engine process included, through psutil,
which vLLM depends on),
accuracy, and whether every problem's answer and `flops.total` equal lockstep's; then the
paired continuous / lockstep ratios of wall and CPU time, their median and range.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import psutil

from infscale.experiments.bench.vllm_world import engine_run, machine_line, print_table, rebase_world, write_json

SCHEDULERS = ("lockstep", "continuous")


def tree_cpu_s() -> float:
    """CPU seconds (user + system) of this process and every live descendant."""
    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def measured(world: Any, scheduler: str) -> dict[str, Any]:
    before = tree_cpu_s()
    result = engine_run(world, {}, {"scheduler": scheduler})
    return result | {"tree_cpu_s": tree_cpu_s() - before}


def main() -> None:
    args, world = rebase_world(__doc__, repeats=4)
    engine_run(world, {}, {"scheduler": "lockstep"})  # warm-up: first-call costs stay out of the pairs
    repeats = []
    for r in range(args.repeats):
        order = SCHEDULERS if r % 2 == 0 else SCHEDULERS[::-1]
        repeats.append({"order": list(order)} | {name: measured(world, name) for name in order})
    report(args, repeats)


def report(args: argparse.Namespace, repeats: list[dict[str, Any]]) -> None:
    print(f"{machine_line()}, REBASE n={args.n}, {args.problems} problems, overrides={args.overrides}")
    rows = []
    for r, rep in enumerate(repeats):
        same = rep["continuous"]["answers"] == rep["lockstep"]["answers"]
        same = same and rep["continuous"]["flops_total"] == rep["lockstep"]["flops_total"]
        rep["same"] = same
        for name in rep["order"]:
            x = rep[name]
            rows.append(
                [r + 1, name, f"{x['wall_s']:.2f}", f"{x['policy_s']:.2f}", f"{x['reward_s']:.2f}"]
                + [f"{x['tree_cpu_s']:.2f}", x["policy_calls"], x["max_batch"], f"{x['accuracy']:.2f}", same]
            )
    header = "repeat,scheduler,wall s,in generate s,in reward s,CPU s (with children),vLLM calls,max_batch,accuracy"
    print_table([*header.split(","), "answers and flops as lockstep"], rows)
    summary = {}
    for key in ("wall_s", "tree_cpu_s"):
        ratios = [rep["continuous"][key] / rep["lockstep"][key] for rep in repeats]
        summary[key] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
        print(
            f"continuous / lockstep {key}: "
            + ", ".join(f"{x:.3f}" for x in ratios)
            + f" (median {statistics.median(ratios):.3f})"
        )
    print(f"identical answers and flops.total in every pair: {all(rep['same'] for rep in repeats)}")
    write_json(args.json, {"args": vars(args), "repeats": repeats, "ratios": summary})


if __name__ == "__main__":
    main()
