"""Caches off vs on, side by side: incremental PRM scoring and prefix KV reuse (issue 13).

    python -m infscale.experiments.bench.cache [--problems 100] [--n 16] [--strategies rebase,beam]

Each (strategy, caches) pair runs in its own fresh process (so peak memory is its own), on
the toy world (`policy=toy_small`, `reward=toy_prm`), same seed. "off" is
`policy.cache_mb=0 reward.cache_mb=0 reward.incremental=false compute.reuse=none` (every
prompt prefilled and every path scored whole, and charged so, as before issue 13); "on" is
the shipped defaults. Reported per
run: accuracy, mean `flops.total` per problem, PRM tokens computed, policy prompt tokens
computed, wall time, peak resident memory and the caches' peak sizes; then the on/off
ratios, and whether answers, candidate texts and step scores (within 1e-5) agree.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import time
from typing import Any

OFF = ["policy.cache_mb=0", "reward.cache_mb=0", "reward.incremental=false", "compute.reuse=none"]


def measure(overrides: list[str], problems: int) -> dict[str, Any]:
    """One run in this process: totals, wall time, peak RSS and what it found."""
    from infscale.experiments.app.build import build, load_config

    cfg = load_config("progress=false", *overrides)
    parts = build(cfg)
    started = time.perf_counter()
    outcomes = list(parts.engine.run(parts.task.problems()[:problems], parts.strategy))
    wall = time.perf_counter() - started
    ledgers = [o.ledger for o in outcomes]
    return {
        "problems": len(outcomes),
        "accuracy": sum(parts.task.is_correct(o.decision.answer, o.problem.reference) for o in outcomes)
        / len(outcomes),
        "flops_total": sum(x.flops_total for x in ledgers) / len(outcomes),
        "flops_reward": sum(x.flops_reward for x in ledgers) / len(outcomes),
        "reward_computed": sum(x.reward_tokens for x in ledgers),
        "reward_cached": sum(x.reward_cached for x in ledgers),
        "prompt_computed": sum(x.prompt_computed for x in ledgers),
        "prompt_cached": sum(x.prompt_cached for x in ledgers),
        "generated": sum(x.generated for x in ledgers),
        "wall_s": wall,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "policy_cache_peak_mib": parts.policy.cache.peak_bytes / 2**20,
        "reward_cache_peak_mib": parts.reward.cache.peak_bytes / 2**20,
        "policy_cache_mib": cfg.policy.cache_mb,
        "reward_cache_mib": cfg.reward.cache_mb,
        "found": [
            {
                "answer": o.decision.answer,
                "candidates": [c.solution for c in o.decision.candidates],
                "scores": [c.step_scores for c in o.decision.candidates],
            }
            for o in outcomes
        ],
    }


def _child(args: tuple[list[str], int]) -> dict[str, Any]:
    return measure(*args)


def isolated(overrides: list[str], problems: int) -> dict[str, Any]:
    """`measure` in a fresh process (spawned), so models, caches and peak memory are its own."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.map(_child, [(overrides, problems)])[0]


def agreement(off: dict[str, Any], on: dict[str, Any]) -> tuple[bool, float]:
    """(same answers and candidate texts everywhere, largest step-score difference)."""
    same, worst = True, 0.0
    for a, b in zip(off["found"], on["found"]):
        same = same and a["answer"] == b["answer"] and a["candidates"] == b["candidates"]
        for x, y in zip(a["scores"], b["scores"]):
            same = same and len(x) == len(y)
            worst = max([worst, *(abs(u - v) for u, v in zip(x, y))])
    return same, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--strategies", default="rebase,beam")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()
    base = [
        "task=toy_arith",
        "policy=toy_small",
        "reward=toy_prm",
        f"strategy.n={args.n}",
        f"seed={args.seed}",
        f"policy.threads={args.threads}",
    ]
    print(
        f"# {platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}, toy_small + toy_prm, n={args.n}, {args.problems} problems, seed {args.seed}, "
        f"{args.threads} torch thread(s)"
    )
    print(
        "| strategy | caches | accuracy | flops.total / problem | PRM tokens computed (cached) | "
        "prompt tokens computed (cached) | wall s | peak RSS MiB | cache peaks MiB (policy / PRM) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    report = {}
    for strategy in args.strategies.split(","):
        runs = {}
        for mode, extra in (("off", OFF), ("on", [])):
            r = runs[mode] = isolated([*base, f"strategy={strategy}", *extra], args.problems)
            print(
                f"| {strategy} | {mode} | {r['accuracy']:.2f} | {r['flops_total']:.3e} | "
                f"{r['reward_computed']} ({r['reward_cached']}) | {r['prompt_computed']} ({r['prompt_cached']}) | "
                f"{r['wall_s']:.1f} | {r['peak_rss_mib']:.0f} | "
                f"{r['policy_cache_peak_mib']:.0f} / {r['reward_cache_peak_mib']:.0f} "
                f"(caps {r['policy_cache_mib']} / {r['reward_cache_mib']}) |",
                flush=True,
            )
        off, on = runs["off"], runs["on"]
        same, worst = agreement(off, on)
        ratios = {
            "prm_tokens": on["reward_computed"] / off["reward_computed"],
            "prompt_tokens": on["prompt_computed"] / off["prompt_computed"],
            "flops_total": on["flops_total"] / off["flops_total"],
            "wall": on["wall_s"] / off["wall_s"],
        }
        print(
            f"| {strategy} | on/off | {'same answers and texts' if same else 'DIFFERENT'} | "
            f"{ratios['flops_total']:.3f} (1/{1 / ratios['flops_total']:.2f}) | {ratios['prm_tokens']:.3f} | "
            f"{ratios['prompt_tokens']:.3f} | {ratios['wall']:.2f} | | max step-score diff {worst:.1e} |",
            flush=True,
        )
        report[strategy] = {
            "off": {k: v for k, v in off.items() if k != "found"},
            "on": {k: v for k, v in on.items() if k != "found"},
            "ratios": ratios,
            "same": same,
            "max_score_diff": worst,
        }
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
