"""The toy world on vLLM, as the vLLM benchmarks run it: one policy, fresh runs against it.

The `vllm.LLM` (slow to start) is built once; each measured run gets a fresh reward model
and engine and an emptied vLLM prefix cache, so no run inherits another's caches and the
order of alternating repeats does not favour either arm.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from omegaconf import DictConfig, OmegaConf

from infscale.experiments.app import resolvers
from infscale.experiments.app.build import build_engine, build_policy, build_reward, build_strategy, build_task
from infscale.tasks.base import Problem, Task

DEFAULTS = ("task=toy_arith", "policy=vllm_toy_small", "reward=toy_prm", "progress=false")


@dataclass
class World:
    cfg: DictConfig
    task: Task
    policy: Any
    problems: list[Problem]


def load_world(overrides: list[str], n_problems: int) -> World:
    """Config (the toy defaults, then `overrides`), task, the vLLM policy, the first problems."""
    resolvers.register()
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        cfg = compose(config_name="config", overrides=[*DEFAULTS, *overrides])
    task = build_task(cfg)
    problems = task.problems()[:n_problems]
    if len(problems) < n_problems:
        raise ValueError(f"--problems {n_problems}: the task has only {len(problems)} (raise task.n)")
    return World(cfg, task, build_policy(cfg, task), problems)


def rebase_world(doc: str, repeats: int) -> tuple[argparse.Namespace, World]:
    """The command line of a REBASE benchmark on this world (`--problems`, `--n`, `--repeats`,
    `--json`, Hydra overrides) and the world it names."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=repeats, help="pairs of runs, in alternating order")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    return args, load_world(["strategy=rebase", f"strategy.n={args.n}", *args.overrides], args.problems)


def fresh_reward(world: World) -> Any:
    """A new reward model (its caches empty), and vLLM's prefix cache emptied."""
    world.policy.llm.reset_prefix_cache()
    return build_reward(world.cfg, world.task)


def engine_run(
    world: World, strategy_overrides: dict[str, Any], engine_overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One engine run over the world's problems: wall, time in each backend, tokens, correctness.

    `cpu_s` is this process's CPU time (vLLM runs in it, `in_process`), which other jobs on a
    shared machine disturb far less than wall time; `reward_cpu_s` the part in `score`.
    `other_s` is the time outside the backends: the engine and the strategies. The backends'
    `count_tokens` (the engine asks it of every prompt and path, for the ledger and budget
    checks) is timed apart as `count_tokens_s` (`reward_count_tokens_s` the reward's share): it is each backend tokenizing its input, cached
    there for the `generate` / `score` call that follows, so it is backend work done early."""
    cfg = OmegaConf.merge(world.cfg, {"strategy": strategy_overrides, "engine": engine_overrides or {}})
    reward = fresh_reward(world)
    engine = build_engine(cfg, world.task, world.policy, reward)
    strategy = build_strategy(cfg, world.task)
    policy_counting, reward_counting, reward_cpu = [0.0], [0.0], [0.0]
    with (
        timed(world.policy, "count_tokens", policy_counting),
        timed(reward, "count_tokens", reward_counting),
        timed(reward, "score", reward_cpu, clock=time.process_time),
    ):
        started, started_cpu = time.perf_counter(), time.process_time()
        outcomes = list(engine.run(world.problems, strategy))
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    calls = engine.calls
    ledgers = [o.ledger for o in outcomes]
    correct = [float(world.task.is_correct(o.decision.answer, o.problem.reference)) for o in outcomes]
    return {
        "wall_s": wall,
        "policy_s": calls["policy_s"],
        "reward_s": calls["reward_s"],
        "cpu_s": cpu,
        "reward_cpu_s": reward_cpu[0],
        "count_tokens_s": policy_counting[0] + reward_counting[0],
        "reward_count_tokens_s": reward_counting[0],
        "other_s": wall - calls["policy_s"] - calls["reward_s"] - policy_counting[0] - reward_counting[0],
        "policy_calls": calls["policy"],
        "sequences": calls["policy_sequences"],
        "reward_sequences": calls["reward_sequences"],
        "generated": sum(ledger.generated for ledger in ledgers),
        "prompt_computed": sum(ledger.prompt_computed for ledger in ledgers),
        "prompt_cached": sum(ledger.prompt_cached for ledger in ledgers),
        "accuracy": sum(correct) / len(correct),
        "correct": correct,
        "answers": [o.decision.answer for o in outcomes],
        "flops_total": [ledger.flops_total for ledger in ledgers],
        "max_batch": engine.max_batch,
        "calls": dict(calls),
    }


@contextmanager
def timed(
    backend: Any, method: str, total: list[float], clock: Callable[[], float] = time.perf_counter
) -> Iterator[None]:
    """`backend.method` adds the time it takes by `clock` to `total[0]` inside the block."""
    original = getattr(backend, method)

    def timing(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return original(*args, **kwargs)
        finally:
            total[0] += clock() - started

    setattr(backend, method, timing)
    try:
        yield
    finally:
        delattr(backend, method)


def machine_line() -> str:
    """Where and when: for the header of a benchmark's printed table."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"# {platform.machine()} {os.cpu_count()} cores, load {load:.1f}, python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def print_table(header: list[str], rows: list[list[object]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def write_json(path: Path | None, payload: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=1, default=str))
