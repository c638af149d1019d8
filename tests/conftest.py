"""Shared fixtures: configs composed exactly as `infscale-run` composes them, hypothesis's
profiles, and the `data` marker that skips a test whose data set is absent."""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hypothesis import settings
from omegaconf import DictConfig
from tqdm import tqdm

from infscale.experiments.app import resolvers
from infscale.tasks.data import data_dir

# Every engine run makes a tqdm bar (disabled ones too) and takes tqdm's lock, by default a
# multiprocessing semaphore shared with every forked process. `make mutation` runs each
# mutant in a forked process and kills the ones that time out: one killed while holding the
# semaphore would hang every later one. The tests need a lock per process only.
tqdm.set_lock(threading.RLock())

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# `make test` runs each property test on a few examples; `make test-all` (CI) on many. A test's
# own `@settings(max_examples=...)` overrides both, so the property tests leave the count to these.
settings.register_profile("dev", max_examples=10, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


SIMULATED_WORLD = {"task": "simulated", "policy": "simulated", "reward": "simulated"}


def simulated_world(overrides: tuple[str, ...]) -> list[str]:
    """Tests run in the simulated world unless they name another task, policy or reward."""
    named = {o.split("=", 1)[0].lstrip("+~") for o in overrides if "=" in o}
    return [f"{group}={choice}" for group, choice in SIMULATED_WORLD.items() if group not in named]


def make_config(*overrides: str) -> DictConfig:
    """A fresh copy of the composed config, so a test may change it without touching another's."""
    return copy.deepcopy(_composed(("progress=false", *simulated_world(overrides), *overrides)))


@functools.cache
def _composed(overrides: tuple[str, ...]) -> DictConfig:
    """Hydra composes each override list once per session (tens of ms each, thousands of calls)."""
    resolvers.register()
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        return compose(config_name="config", overrides=list(overrides))


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


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a `vllm` test where vLLM is not installed, and a `@pytest.mark.data("gsm8k", ...)`
    test, naming the data set, when the data folder ($INFSCALE_DATA_DIR, else ../shared/data
    beside the repository) lacks it."""
    if item.get_closest_marker("vllm") and importlib.util.find_spec("vllm") is None:
        pytest.skip(reason="needs vLLM: make test-vllm runs it in .venv-vllm")
    for marker in item.iter_markers("data"):
        missing = [name for name in marker.args if not (data_dir() / name).is_dir()]
        if missing:
            pytest.skip(reason=f"data set {', '.join(missing)} not found in {data_dir()}")
