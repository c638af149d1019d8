"""Engine overhead per expanded node and batch fill, on the simulated world.

    python experiments/bench/engine.py [--strategy rebase] [--n 16] [--max-batch 256]
    python experiments/bench/engine.py --baseline-tree ../base --sizes 200 --repeats 7

Overhead = wall time of the whole run minus the time spent inside backend calls, divided
by the number of generated nodes; batch fill = mean sequences per policy call / max_batch.
With `--baseline-tree` (a checkout of another commit, e.g. `git worktree add ../base main`)
each size runs `--repeats` times in this tree and in that one, in alternating fresh
processes, and the table gives this tree's overhead over the baseline's: the median of the
paired ratios and their range, by wall time and by CPU time (the process's CPU time outside
backend calls, which other jobs on a shared machine disturb far less).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

MODEL = dict(
    hidden_size=2048,
    num_hidden_layers=24,
    num_attention_heads=16,
    intermediate_size=5504,
    vocab_size=32000,
    hidden_act="silu",
)
HERE = Path(__file__).resolve().parents[2]


def measure(n_problems: int, strategy_name: str, n: int, max_batch: int) -> dict[str, float]:
    # Imported here: with --baseline-tree each child process imports the tree it measures.
    from infscale.budgets.budget import Budget

    try:
        from infscale.experiments.app.build import load
    except ImportError:  # a baseline tree from before experiments/ was split by role
        from infscale.experiments.build import load
    from infscale.search.engine import Engine, Sampling

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
    backend_cpu = [0.0]
    engine.policy.generate = _cpu_timed(engine.policy.generate, backend_cpu)
    engine.reward.score = _cpu_timed(engine.reward.score, backend_cpu)
    started, started_cpu = time.perf_counter(), time.process_time()
    outcomes = list(engine.run(task.problems(), strategy))
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    nodes = sum(len(o.tree.nodes) - 1 for o in outcomes)
    calls = engine.calls
    overhead = wall - calls["policy_s"] - calls["reward_s"]
    return {
        "problems": n_problems,
        "nodes": nodes,
        "wall_s": wall,
        "backend_s": calls["policy_s"] + calls["reward_s"],
        "overhead_us_per_node": 1e6 * overhead / nodes,
        "overhead_cpu_us_per_node": 1e6 * (cpu - backend_cpu[0]) / nodes,
        "policy_calls": calls["policy"],
        "mean_batch": calls["policy_sequences"] / calls["policy"],
        "batch_fill": calls["policy_sequences"] / calls["policy"] / max_batch,
    }


def _cpu_timed(method: Callable[[list], list], total: list[float]) -> Callable[[list], list]:
    """`method`, adding the CPU time of each call to total[0]."""

    def timed(requests: list) -> list:
        started = time.process_time()
        try:
            return method(requests)
        finally:
            total[0] += time.process_time() - started

    return timed


def package_view(tree: Path, into: Path) -> Path:
    """A folder that, first on PYTHONPATH, makes `import infscale` load `tree`'s source. A tree
    whose infscale/ links to its layer folders is its own view; an older tree (pyproject's
    package-dir mapping) gets a folder of links made from that mapping."""
    if (tree / "infscale" / "search").is_dir():
        return tree
    mapping = tomllib.loads((tree / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    root = into / "infscale"
    root.mkdir(parents=True)
    (root / "__init__.py").symlink_to(tree / mapping["infscale"] / "__init__.py")
    for package, folder in mapping.items():
        if package != "infscale":
            (root / package.removeprefix("infscale.")).symlink_to(tree / folder, target_is_directory=True)
    return into


def measure_in(tree: Path, view: Path, args: argparse.Namespace, size: int) -> dict[str, float]:
    """`measure` in a fresh process that imports `tree` through `view`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(view), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, __file__, "--json", f"--sizes={size}", f"--strategy={args.strategy}"]
    command += [f"--n={args.n}", f"--max-batch={args.max_batch}"]
    out = subprocess.run(command, env=env, cwd=view, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.splitlines()[-1])
    if not Path(result.pop("engine_source")).is_relative_to(tree):
        raise SystemExit(f"a run meant for {tree} imported another tree's engine")
    return result


def compare(args: argparse.Namespace) -> None:
    baseline = Path(args.baseline_tree).resolve()
    if not (baseline / "pyproject.toml").is_file():
        raise SystemExit(f"--baseline-tree {args.baseline_tree}: no pyproject.toml there")
    print(f"# this tree {HERE} vs baseline {baseline}; {args.repeats} alternating repeats per size")
    print(
        "| problems | nodes | clock | this us/node (median) | baseline us/node (median) | ratio (median) | ratio range |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this": HERE, "base": baseline}
        views = {name: package_view(tree, Path(tmp, name)) for name, tree in trees.items()}
        for size in map(int, args.sizes.split(",")):
            runs: dict[str, list[dict[str, float]]] = {"this": [], "base": []}
            for repeat in range(args.repeats):
                for name in ("this", "base") if repeat % 2 == 0 else ("base", "this"):
                    runs[name].append(measure_in(trees[name], views[name], args, size))
            if runs["this"][0]["nodes"] != runs["base"][0]["nodes"]:
                print(f"# warning: {size} problems generate {runs['this'][0]['nodes']} nodes here, ", end="")
                print(f"{runs['base'][0]['nodes']} in the baseline: not the same work")
            for clock, key in (("wall", "overhead_us_per_node"), ("cpu", "overhead_cpu_us_per_node")):
                this, base = ([r[key] for r in runs[k]] for k in ("this", "base"))
                ratios = [a / b for a, b in zip(this, base)]
                print(
                    f"| {size} | {runs['this'][0]['nodes']} | {clock} | {statistics.median(this):.1f} | "
                    f"{statistics.median(base):.1f} | {statistics.median(ratios):.3f} | "
                    f"{min(ratios):.3f}-{max(ratios):.3f} |"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="rebase")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--max-batch", type=int, default=256)
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--baseline-tree", help="a checkout of another commit to compare against")
    parser.add_argument("--repeats", type=int, default=5, help="runs per tree and size with --baseline-tree")
    parser.add_argument("--json", action="store_true", help="one JSON line per size (what --baseline-tree reads)")
    args = parser.parse_args()
    if args.baseline_tree:
        compare(args)
        return
    if not args.json:
        print(
            f"# {platform.processor() or platform.machine()}, python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d')}, strategy={args.strategy} n={args.n} max_batch={args.max_batch}"
        )
        print("| problems | nodes | wall s | in backends s | overhead us/node | policy calls | mean batch | fill |")
        print("|---|---|---|---|---|---|---|---|")
    for size in map(int, args.sizes.split(",")):
        r = measure(size, args.strategy, args.n, args.max_batch)
        if args.json:
            print(
                json.dumps({**r, "engine_source": str(Path(sys.modules["infscale.search.engine"].__file__).resolve())})
            )
            continue
        print(
            f"| {r['problems']} | {r['nodes']} | {r['wall_s']:.2f} | {r['backend_s']:.2f} | "
            f"{r['overhead_us_per_node']:.1f} | {r['policy_calls']} | {r['mean_batch']:.1f} | {r['batch_fill']:.0%} |"
        )


if __name__ == "__main__":
    main()
