"""`infscale-run`: one search configuration over a task, written to a resumable run folder.

    infscale-run task=simulated policy=simulated reward=simulated strategy=rebase \
        strategy.n=16 budget.max_tokens=20000 n_problems=100 seed=0 save_trees=true
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from infscale.experiments.app import preflight, resolvers
from infscale.experiments.app import shard as shards
from infscale.experiments.app.allocate import run_allocated
from infscale.experiments.app.build import Components, build, plain
from infscale.experiments.app.store import RunStore
from infscale.search.node import file_safe
from infscale.search.records import outcome_record

resolvers.register()
log = logging.getLogger("infscale.run")

_LIBRARIES = ("infscale", "torch", "transformers", "vllm", "hydra-core", "numpy", "scipy", "networkx", "math-verify")


class Interrupted(BaseException):
    """SIGINT or SIGTERM: stop, keep what is finished."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Signals:
    """SIGINT/SIGTERM stop the run: at once (an `Interrupted` raised where the main thread
    is, e.g. waiting on a backend), except while a result is being written, when the run
    stops right after the write. A second signal always stops at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.writing = False

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        again, self.signum = self.signum is not None, signum
        if again or not self.writing:
            raise Interrupted(signum)

    def stopped(self) -> bool:
        return self.signum is not None


def run(cfg: DictConfig, folder: Path, signals: Signals | None = None) -> dict[str, Any]:
    """Run (or resume) the configuration in `cfg`, writing into `folder`; return the summary."""
    signals = signals or Signals()
    preflight.check_config(cfg)
    shard = shards.shard_of(cfg)
    store = RunStore(folder)
    with store:
        done = store.finished()
        fingerprint = config_fingerprint(cfg)
        store.check_config(fingerprint, has_results=bool(done))
        parts = build(cfg)
        selected = preflight.select_problems(parts.task.problems(), cfg.get("n_problems"), parts.task.name)
        problems = shard.select(selected)
        if shard.sharded and parts.engine.pool is not None:
            parts.engine.pool = share = shard.pool(parts.engine.pool, len(selected))
            log.info(
                f"shard {shard.index} of {shard.count}: {len(problems)} of {len(selected)} problems and as much "
                f"of the pool (total_flops {share.total_flops}, total_tokens {share.total_tokens})"
            )
        ids = [p.id for p in problems]
        stale = set(done) - set(ids)
        if stale:
            raise ValueError(
                f"{store.results_path} holds problems this configuration does not: {sorted(stale)[:3]} ..."
            )
        finished = set(done)
        todo = [p for p in problems if p.id not in finished]
        preflight.check_prompts(todo, parts.policy, parts.reward)
        if parts.allocator is None:
            log.info(preflight.plan_line(cfg, len(problems), len(done), folder))
        if cfg.get("save_trees"):
            treeless = [i for i in done if not (folder / "trees" / f"{file_safe(i)}.json").exists()]
            if treeless:
                log.warning(
                    f"save_trees=true: {len(treeless)} problems finished before without saving their trees "
                    f"(e.g. {treeless[0]}); trees are saved for problems run now only "
                    f"(move {folder / 'results.jsonl'} away to rerun them)"
                )
        store.keep_config(fingerprint)
        info = run_info(cfg, parts)
        if parts.allocator is not None:
            _, allocation = run_allocated(cfg, folder, parts, problems, info)
            return store.finalize(ids, {**allocation, "provenance": provenance(cfg, parts)})
        saved = len(done)
        try:
            for outcome in parts.engine.run(todo, parts.strategy, ordered=False, stop=signals.stopped):
                signals.writing = True
                store.append(outcome_record(outcome, parts.task, info, parts.strategy.aggregation))
                if cfg.get("save_trees"):
                    outcome.tree.save(folder / "trees")
                saved += 1
                signals.writing = False
                if signals.signum is not None:
                    raise Interrupted(signals.signum)
            if signals.signum is not None:
                raise Interrupted(signals.signum)
            return store.finalize(ids, {"provenance": provenance(cfg, parts)})
        except Interrupted as stop:
            store.close()
            stop.args = (f"{saved} of {len(problems)} problems are saved in {folder}",)
            raise


def config_fingerprint(cfg: DictConfig) -> dict[str, Any]:
    """Everything that determines each problem's result: the keys of the run id less
    `n_problems` (a finished run may be extended to more problems; fewer are refused), with
    the shard where there is one."""
    resolved = shards.without_default(resolvers.portable(OmegaConf.to_container(cfg, resolve=True)))
    return {k: v for k, v in resolved.items() if k not in resolvers.NOT_IN_RUN_ID | {"n_problems"}}


def run_info(cfg: DictConfig, parts: Components) -> dict[str, Any]:
    return {
        "task": cfg.task.name,
        "policy": getattr(parts.policy, "name", None) or cfg.policy.name,
        "reward": getattr(parts.reward, "name", None) or cfg.reward.name,
        "strategy": cfg.strategy.name,
        "selector": cfg.strategy.get("selector"),
        "n": cfg.strategy.n,
        "budget": {k: v for k, v in plain(cfg.budget).items() if k not in ("name", "_target_")},
        "allocator": cfg.allocator.name,
        "seed": cfg.seed,
    }


def provenance(cfg: DictConfig, parts: Components) -> dict[str, Any]:
    """summary.json's `provenance` object: what the numbers were computed with, and when."""
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    shard = shards.shard_of(cfg)
    checkpoints = {
        role: getattr(backend, "checkpoint_hash", None)
        for role, backend in (("policy", parts.policy), ("reward", parts.reward))
    }
    return {
        "config": OmegaConf.to_container(cfg, resolve=True),
        "shard": {"count": shard.count, "index": shard.index},
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
    signals = Signals()
    signals.install()
    try:
        summary = run(cfg, folder, signals)
    except Interrupted as stop:
        name = signal.Signals(stop.signum).name
        saved = stop.args[0] if isinstance(stop.args[0], str) else "before any problem ran"
        log.error("interrupted by %s: %s; rerun the same command to resume", name, saved)
        # Everything is on disk (fsync'd) and the lock is released: leave now, without the
        # interpreter's teardown (seconds with large libraries loaded, or threads in a call).
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + stop.signum)
    line = (
        f"accuracy {summary['accuracy']:.3f} [{summary['accuracy_lo']:.3f}, {summary['accuracy_hi']:.3f}] "
        f"over {summary['n_problems']} problems; results in {folder}"
    )
    print(line)
    log.info(line, extra={"file_only": True})


if __name__ == "__main__":
    main()
