"""Engine overhead per expanded node and batch fill, on the simulated world.

    python experiments/bench/engine.py [--strategy rebase] [--n 16] [--max-batch 256]

Overhead = wall time of the whole run minus the time spent inside backend calls, divided
by the number of generated nodes; batch fill = mean sequences per policy call / max_batch.
"""

from __future__ import annotations

import argparse
import platform
import time

from infscale.budgets.budget import Budget
from infscale.experiments.app.build import load
from infscale.search.engine import Engine, Sampling

MODEL = dict(
    hidden_size=2048,
    num_hidden_layers=24,
    num_attention_heads=16,
    intermediate_size=5504,
    vocab_size=32000,
    hidden_act="silu",
)


def measure(n_problems: int, strategy_name: str, n: int, max_batch: int) -> dict[str, float]:
    task = load("task", "simulated", n=n_problems, seed=11)
    engine = Engine(
        task,
        load("policy", "simulated", model=MODEL),
        load("reward", "simulated", model=MODEL),
        Budget.unlimited(),
        Sampling(),
        max_batch=max_batch,
    )
    strategy = load("strategy", strategy_name, task=task, n=n)
    started = time.perf_counter()
    outcomes = list(engine.run(task.problems(), strategy))
    wall = time.perf_counter() - started
    nodes = sum(len(o.tree.nodes) - 1 for o in outcomes)
    calls = engine.calls
    overhead = wall - calls["policy_s"] - calls["reward_s"]
    return {
        "problems": n_problems,
        "nodes": nodes,
        "wall_s": wall,
        "backend_s": calls["policy_s"] + calls["reward_s"],
        "overhead_us_per_node": 1e6 * overhead / nodes,
        "policy_calls": calls["policy"],
        "mean_batch": calls["policy_sequences"] / calls["policy"],
        "batch_fill": calls["policy_sequences"] / calls["policy"] / max_batch,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="rebase")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--max-batch", type=int, default=256)
    parser.add_argument("--sizes", default="1,10,100,1000")
    args = parser.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}, strategy={args.strategy} n={args.n} max_batch={args.max_batch}"
    )
    print("| problems | nodes | wall s | in backends s | overhead us/node | policy calls | mean batch | fill |")
    print("|---|---|---|---|---|---|---|---|")
    for size in map(int, args.sizes.split(",")):
        r = measure(size, args.strategy, args.n, args.max_batch)
        print(
            f"| {r['problems']} | {r['nodes']} | {r['wall_s']:.2f} | {r['backend_s']:.2f} | "
            f"{r['overhead_us_per_node']:.1f} | {r['policy_calls']} | {r['mean_batch']:.1f} | {r['batch_fill']:.0%} |"
        )


if __name__ == "__main__":
    main()
