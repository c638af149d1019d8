"""Shared fixtures: configs composed exactly as `infscale-run` composes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig
from tqdm import tqdm

from infscale.experiments.app import resolvers

# Every engine run makes a tqdm bar (disabled ones too) and takes tqdm's lock, by default a
# multiprocessing semaphore shared with every forked process. `make mutation` runs each
# mutant in a forked process and kills the ones that time out: one killed while holding the
# semaphore would hang every later one. The tests need a lock per process only.
tqdm.set_lock(threading.RLock())

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


SIMULATED_WORLD = {"task": "simulated", "policy": "simulated", "reward": "simulated"}


def simulated_world(overrides: tuple[str, ...]) -> list[str]:
    """Tests run in the simulated world unless they name another task, policy or reward."""
    named = {o.split("=", 1)[0].lstrip("+~") for o in overrides if "=" in o}
    return [f"{group}={choice}" for group, choice in SIMULATED_WORLD.items() if group not in named]


def make_config(*overrides: str) -> DictConfig:
    resolvers.register()
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        return compose(config_name="config", overrides=["progress=false", *simulated_world(overrides), *overrides])


def read_results(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(folder) / "results.jsonl").read_text().splitlines()]


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300, wrap: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """`infscale-run args` in a subprocess (behind the command prefix `wrap`, e.g. setpriv)."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    flags = [a for a in args if a.startswith("-")]
    overrides = [a for a in args if not a.startswith("-")]
    return subprocess.run(
        [*wrap, str(BIN / "infscale-run"), *flags, *simulated_world(args), *overrides],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def config():
    return make_config
