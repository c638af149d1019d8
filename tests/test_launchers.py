"""The shipped launcher presets: a two-configuration sweep of two shards each, through
submitit's local executor and through our Ray launcher joining a Ray cluster started for the
test (`ray start --head`), merges to one row per configuration equal to the unsharded runs; no
preset prints Hydra's deprecation warning for a config file named as a plugin's own schema (it
did on every sweep, `make demo` included)."""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from infscale.experiments.app import resolvers
from infscale.experiments.app.resolvers import package_path
from infscale.experiments.app.run import run
from tests.conftest import BIN, REPO, make_config, run_cli
from tests.vllm_helpers import free_port

WORLD = ("strategy=best_of_n", "n_problems=200", "progress=false")
COSTS = ("accuracy", "flops_total", "flops_paper", "tokens_generated", "n_problems")
SWEEP = ("strategy.n=2,4", "shard.count=2", "shard.index=0,1")


def launcher(name: str) -> dict:
    resolvers.register()
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        cfg = compose(config_name="config", overrides=[f"hydra/launcher={name}"], return_hydra_config=True)
    return OmegaConf.to_container(cfg.hydra.launcher)


PLUGINS = {
    "infscale_joblib": "hydra_plugins.hydra_joblib_launcher",
    "ray": "hydra_plugins.infscale_ray_launcher",
    "infscale_submitit_local": "hydra_plugins.hydra_submitit_launcher",
    "infscale_submitit_slurm": "hydra_plugins.hydra_submitit_launcher",
}


def installed(preset: str) -> bool:
    return importlib.util.find_spec(PLUGINS[preset]) is not None


def preset_file(preset: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(package_path(f"conf/hydra/launcher/{preset}.yaml")))


def test_every_shipped_preset_is_listed_here():
    assert sorted(p.stem for p in Path(package_path("conf/hydra/launcher")).glob("*.yaml")) == sorted(PLUGINS)


@pytest.mark.parametrize("preset", sorted(PLUGINS))
def test_a_preset_composes_without_a_deprecation_warning(preset):
    if not installed(preset):
        pytest.skip(reason=f"{PLUGINS[preset]} is not installed (an optional extra)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        composed = launcher(preset)
    assert [str(w.message) for w in caught if "deprecated" in str(w.message)] == []
    assert composed["_target_"].startswith(PLUGINS[preset])
    assert {k: composed[k] for k in preset_file(preset) if k != "defaults"} == {
        k: v for k, v in preset_file(preset).items() if k != "defaults"
    }


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["infscale_joblib", "infscale_submitit_local"])
def test_a_multirun_through_a_preset_prints_no_deprecation_warning(tmp_path, preset):
    if not installed(preset):
        pytest.skip(reason=f"{PLUGINS[preset]} is not installed (an optional extra)")
    done = run_cli("-m", "strategy=best_of_n", "strategy.n=1,2", "n_problems=2", "progress=false",
                   f"hydra/launcher={preset}", f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.rglob("summary.json"))) == 2
    assert "deprecated" not in done.stderr + done.stdout


def test_the_ray_preset_is_our_launcher_and_asks_for_no_gpu():
    preset = launcher("ray")
    assert preset["_target_"] == "hydra_plugins.infscale_ray_launcher.ray_launcher.RayLauncher"
    assert preset["ray"] == {"init": {"address": None}, "remote": {"num_cpus": 1, "num_gpus": 0}}


def check_merged(sweep, tmp_path):
    """Four shard folders in `sweep`, collected to one row per strategy.n equal to its unsharded run."""
    assert len(list(sweep.rglob("summary.json"))) == 4
    collected = subprocess.run(
        [str(BIN / "infscale-collect"), "--draws", "2", str(sweep)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stderr
    rows = {r["strategy.n"]: r for r in json.loads((sweep / "collected.json").read_text())}
    assert sorted(rows) == [2, 4]
    for n, row in rows.items():
        whole = run(make_config(*WORLD, f"strategy.n={n}"), tmp_path / f"whole{n}")
        assert {k: row[k] for k in COSTS} == pytest.approx({k: whole[k] for k in COSTS}, rel=1e-12)
        assert "shard.index=0-1" in row["job"]


@pytest.mark.slow
def test_a_sweep_of_two_configurations_in_two_shards_each_through_submitit_local(tmp_path):
    sweep = tmp_path / "sweep"
    done = run_cli("-m", *WORLD, *SWEEP, "hydra/launcher=infscale_submitit_local", f"hydra.sweep.dir={sweep}")
    assert done.returncode == 0, done.stderr
    check_merged(sweep, tmp_path)


@pytest.fixture
def ray_head(tmp_path):
    """`ray start --head` on free ports, its files in a short folder (Ray's socket paths must fit
    in 107 bytes); stopped after the test by signalling its process group only (`ray stop`
    would stop every Ray on the machine)."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    log = tmp_path / "ray_head.log"
    command = [
        str(BIN / "ray"),
        "start",
        "--head",
        f"--port={port}",
        f"--dashboard-agent-listen-port={free_port()}",
        "--num-cpus=2",
        f"--temp-dir={temp}",
        "--include-dashboard=false",
        "--disable-usage-stats",
        "--block",
    ]
    head = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "Ray runtime started" not in log.read_text(errors="replace"):
            assert head.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        yield port
    finally:
        for signum, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 30)):  # SIGKILL: what SIGTERM left of the group
            try:
                os.killpg(head.pid, signum)
                head.wait(timeout=wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_a_sweep_of_two_configurations_in_two_shards_each_on_a_ray_cluster(ray_head, tmp_path):
    sweep = tmp_path / "sweep"
    address = f"127.0.0.1:{ray_head}"
    done = run_cli(
        "-m",
        *WORLD,
        *SWEEP,
        "hydra/launcher=ray",
        f"hydra.launcher.ray.init.address={address}",
        f"hydra.sweep.dir={sweep}",
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    said = done.stdout + done.stderr
    assert f":{ray_head}) is launching 4 jobs" in said  # the cluster's head, not a Ray of its own
    check_merged(sweep, tmp_path)
