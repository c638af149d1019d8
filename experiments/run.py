"""`infscale-run`: one search configuration over a task, written to a resumable run folder.

    infscale-run task=simulated policy=simulated reward=simulated strategy=rebase \
        strategy.n=16 budget.max_tokens=20000 n_problems=100 seed=0 save_trees=true
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from infscale.experiments import resolvers
from infscale.experiments.allocate import run_allocated
from infscale.experiments.build import Components, build, plain
from infscale.experiments.store import RunStore
from infscale.search.records import outcome_record

resolvers.register()

_LIBRARIES = ("infscale", "torch", "transformers", "vllm", "hydra-core", "numpy", "scipy", "networkx", "math-verify")


def run(cfg: DictConfig, folder: Path) -> dict[str, Any]:
    """Run (or resume) the configuration in `cfg`, writing into `folder`; return the summary."""
    parts = build(cfg)
    problems = parts.task.problems()
    n_problems = cfg.get("n_problems")
    if n_problems is not None:
        if not isinstance(n_problems, int) or n_problems < 0:
            raise ValueError(f"n_problems must be a non-negative integer, got {n_problems!r}")
        problems = problems[:n_problems]
    ids = [p.id for p in problems]
    if len(set(ids)) != len(ids):
        raise ValueError(f"task '{parts.task.name}' has duplicate problem ids")
    store = RunStore(folder)
    if parts.allocator is not None:
        records, extra = run_allocated(cfg, folder, parts, problems, run_info(cfg))
        return store.write_summary(records, {**extra, **provenance(cfg, parts)})
    done = store.finished()
    stale = set(done) - set(ids)
    if stale:
        raise ValueError(f"{store.results_path} holds problems this configuration does not: {sorted(stale)[:3]} ...")
    todo = [p for p in problems if p.id not in done]
    if done and [p.id for p in problems[: len(done)]] != list(done):
        raise ValueError(f"{store.results_path} is not a prefix of this run's problems; use a fresh run folder")
    info = run_info(cfg)
    for outcome in parts.engine.run(todo, parts.strategy):
        store.append(outcome_record(outcome, parts.task, info, parts.strategy.aggregation))
        if cfg.get("save_trees"):
            outcome.tree.save(folder / "trees")
    records = [r for r in _read_ordered(store, ids)]
    return store.write_summary(records, provenance(cfg, parts))


def _read_ordered(store: RunStore, ids: list[str]) -> list[dict[str, Any]]:
    records = store.finished()
    return [records[i] for i in ids]


def run_info(cfg: DictConfig) -> dict[str, Any]:
    return {
        "task": cfg.task.name,
        "policy": cfg.policy.name,
        "reward": cfg.reward.name,
        "strategy": cfg.strategy.name,
        "selector": cfg.strategy.get("selector"),
        "n": cfg.strategy.n,
        "budget": {k: v for k, v in plain(cfg.budget).items() if k not in ("name", "_target_")},
        "allocator": cfg.allocator.name,
        "seed": cfg.seed,
    }


def provenance(cfg: DictConfig, parts: Components) -> dict[str, Any]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    checkpoints = {
        role: getattr(backend, "checkpoint_hash", None)
        for role, backend in (("policy", parts.policy), ("reward", parts.reward))
    }
    return {
        "config": OmegaConf.to_container(cfg, resolve=True),
        "git_commit": git_commit(),
        "versions": versions,
        "checkpoints": checkpoints,
        "engine_calls": dict(parts.engine.calls),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@hydra.main(version_base=None, config_path="pkg://infscale.conf", config_name="config")
def main(cfg: DictConfig) -> None:
    folder = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = run(cfg, folder)
    except ValueError as error:
        print(f"infscale-run: error: {error}", file=sys.stderr)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # Hydra records the failed job and goes on with the others
        sys.exit(2)
    print(
        f"accuracy {summary['accuracy']:.3f} [{summary['accuracy_lo']:.3f}, {summary['accuracy_hi']:.3f}] "
        f"over {summary['n_problems']} problems; results in {folder}"
    )


if __name__ == "__main__":
    main()
