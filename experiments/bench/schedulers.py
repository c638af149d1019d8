"""Lockstep against continuous scheduling, side by side in one process (issue 29).

    python -m infscale.experiments.bench.schedulers --world sim [--problems 100] [--repeats 6]
    python -m infscale.experiments.bench.schedulers --world toy_sum [--problems 50] [--repeats 4]

Each repeat runs the same configuration under `engine.scheduler=lockstep` and
`engine.scheduler=continuous`, in alternating order (lockstep first in even repeats), each
with freshly built backends (so neither inherits the other's prefix caches). Reported per run:
wall time, seconds inside policy and reward calls, calls and mean sequences per call, the
prompt tokens the backends report served from a prefix cache, and whether every problem's
answer, candidates and step scores equal lockstep's; then the paired wall-time ratios
(continuous / lockstep) of the repeats, their median and range.

Worlds: `sim` is the simulated task, policy and PRM (REBASE n = 16) with an artificial
latency per call (`Latency`: the backends compute nothing that takes time, so the latency is
what a scheduler can hide); `toy_sum` is the transformers world (`policy=toy_sum_s
reward=toy_sum_prm`, REBASE n = 16), whose backends run torch on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

WORLDS = {
    "sim": ["task=simulated", "policy=simulated", "reward=simulated", "strategy=rebase", "strategy.n=16"],
    "toy_sum": ["task=toy_sum", "policy=toy_sum_s", "reward=toy_sum_prm", "strategy=rebase", "strategy.n=16"],
}


class Latency:
    """A backend that takes time: each call of `inner` is followed by a sleep (which releases
    the GIL, as a call into a GPU or server does) of `fixed_s` plus, for a policy,
    `per_token_s` times the longest sample of the call (decoding runs until its longest row
    ends), for a reward model `per_token_s` times the tokens it reads."""

    def __init__(self, inner: Any, fixed_s: float, per_token_s: float) -> None:
        self.inner, self.fixed_s, self.per_token_s = inner, fixed_s, per_token_s
        self.name, self.spec = inner.name, inner.spec
        self.outcome = getattr(inner, "outcome", False)
        self.incremental = getattr(inner, "incremental", False)

    def count_tokens(self, x: Any) -> Any:
        return self.inner.count_tokens(x)

    def generate(self, requests: list) -> list:
        results = self.inner.generate(requests)
        longest = max((s.tokens or 0 for r in results for s in r.samples), default=0)
        time.sleep(self.fixed_s + self.per_token_s * longest)
        return results

    def score(self, requests: list) -> list:
        results = self.inner.score(requests)
        time.sleep(self.fixed_s + self.per_token_s * sum(self.inner.count_tokens(r) for r in requests))
        return results


def measure(world: str, scheduler: str, problems: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run in this process, with freshly built backends."""
    from infscale.experiments.app.build import build, load_config

    cfg = load_config(
        "progress=false",
        *WORLDS[world],
        f"engine.scheduler={scheduler}",
        f"engine.batch_wait_ms={args.batch_wait_ms}",
        f"task.n={max(problems, 1)}",
    )
    parts = build(cfg)
    if world == "sim":
        parts.engine.policy = Latency(parts.policy, args.policy_fixed_ms / 1000, args.policy_token_ms / 1000)
        parts.engine.reward = Latency(parts.reward, args.reward_fixed_ms / 1000, args.reward_token_ms / 1000)
    started = time.perf_counter()
    outcomes = list(parts.engine.run(parts.task.problems()[:problems], parts.strategy))
    wall = time.perf_counter() - started
    calls = parts.engine.calls
    return {
        "scheduler": scheduler,
        "wall_s": wall,
        "policy_s": calls["policy_s"],
        "reward_s": calls["reward_s"],
        "policy_calls": calls["policy"],
        "policy_batch": calls["policy_sequences"] / max(calls["policy"], 1),
        "reward_calls": calls["reward"],
        "reward_batch": calls["reward_sequences"] / max(calls["reward"], 1),
        "policy_cached": calls["policy_cached"],
        "policy_prompt": calls["policy_prompt"],
        "reward_cached": calls["reward_cached"],
        "reward_prompt": calls["reward_prompt"],
        "accuracy": sum(parts.task.is_correct(o.decision.answer, o.problem.reference) for o in outcomes)
        / len(outcomes),
        "found": [
            [
                o.decision.answer,
                [c.solution for c in o.decision.candidates],
                [c.step_scores for c in o.decision.candidates],
            ]
            for o in outcomes
        ],
    }


def same(a: list, b: list, tolerance: float = 1e-5) -> bool:
    """Answers and candidates equal, step scores within `tolerance` (a PRM's float rounding
    depends on what shares its batch and on its prefix cache)."""
    for (answer_a, texts_a, scores_a), (answer_b, texts_b, scores_b) in zip(a, b, strict=True):
        if answer_a != answer_b or texts_a != texts_b:
            return False
        for x, y in zip(scores_a, scores_b, strict=True):
            if len(x) != len(y) or any(abs(u - v) > tolerance for u, v in zip(x, y)):
                return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", choices=sorted(WORLDS), default="sim")
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--policy-fixed-ms", type=float, default=5.0, help="sim: per policy call")
    parser.add_argument("--policy-token-ms", type=float, default=0.5, help="sim: per token of a call's longest sample")
    parser.add_argument("--reward-fixed-ms", type=float, default=5.0, help="sim: per reward call")
    parser.add_argument("--reward-token-ms", type=float, default=0.002, help="sim: per token the PRM reads")
    parser.add_argument(
        "--switch-interval-ms", type=float, help="sys.setswitchinterval for both schedulers (default: Python's 5 ms)"
    )
    parser.add_argument("--json", help="also write every run here")
    args = parser.parse_args(argv)
    if args.problems < 1 or args.repeats < 1:
        parser.error(f"--problems and --repeats must be >= 1, got {args.problems}, {args.repeats}")

    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    runs, ratios = [], []
    for repeat in range(args.repeats):
        order = ("lockstep", "continuous") if repeat % 2 == 0 else ("continuous", "lockstep")
        pair = {name: measure(args.world, name, args.problems, args) for name in order}
        ratios.append(pair["continuous"]["wall_s"] / pair["lockstep"]["wall_s"])
        identical = same(pair["lockstep"]["found"], pair["continuous"]["found"])
        for name in order:
            row = {k: v for k, v in pair[name].items() if k != "found"}
            runs.append({"repeat": repeat, "identical": identical, **row})
            print(
                f"repeat {repeat} {name:10s} wall {row['wall_s']:7.2f} s  policy {row['policy_s']:6.2f} s "
                f"({row['policy_calls']} calls, {row['policy_batch']:.1f} seq)  reward {row['reward_s']:6.2f} s "
                f"({row['reward_calls']} calls, {row['reward_batch']:.1f} seq)  cached policy "
                f"{row['policy_cached']}/{row['policy_prompt']} reward {row['reward_cached']}/{row['reward_prompt']}  "
                f"acc {row['accuracy']:.3f}  same as lockstep: {identical}",
                flush=True,
            )
        print(f"repeat {repeat}: continuous / lockstep wall = {ratios[-1]:.3f}", flush=True)
    print(
        f"\n{args.world}, {args.problems} problems, {args.repeats} alternating repeats: continuous / lockstep wall "
        f"median {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}); "
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load {os.getloadavg()[0]:.1f}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "runs": runs, "ratios": ratios}, handle, indent=1)


if __name__ == "__main__":
    main()
