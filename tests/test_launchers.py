"""The shipped launcher presets: a two-configuration sweep of two shards each through
submitit's local executor merges to one row per configuration equal to the unsharded runs;
the Ray preset leaves object_store_memory to Ray (the plugin's own default of 75 MB is refused
by ray.init when joining a running cluster)."""

import json
import subprocess

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from infscale.experiments.app import resolvers
from infscale.experiments.app.run import run
from tests.conftest import BIN, REPO, make_config, run_cli

WORLD = ("strategy=best_of_n", "n_problems=200", "progress=false")
COSTS = ("accuracy", "flops_total", "flops_paper", "tokens_generated", "n_problems")


def launcher(name: str) -> dict:
    resolvers.register()
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        cfg = compose(config_name="config", overrides=[f"hydra/launcher={name}"], return_hydra_config=True)
    return OmegaConf.to_container(cfg.hydra.launcher)


def test_the_ray_preset_joins_a_cluster_without_extra_flags_and_asks_for_no_gpu():
    ray = launcher("ray")["ray"]
    # present and null: the plugin only fills it in (setdefault) where the key is absent
    assert "object_store_memory" in ray["init"] and ray["init"]["object_store_memory"] is None
    assert ray["init"]["address"] is None  # RAY_ADDRESS or a local cluster, as ray.init decides
    assert ray["remote"] == {"num_cpus": 1, "num_gpus": 0}


@pytest.mark.slow
def test_a_sweep_of_two_configurations_in_two_shards_each_through_submitit_local(tmp_path):
    sweep = tmp_path / "sweep"
    done = run_cli(
        "-m",
        *WORLD,
        "strategy.n=2,4",
        "hydra/launcher=submitit_local",
        "shard.count=2",
        "shard.index=0,1",
        f"hydra.sweep.dir={sweep}",
    )
    assert done.returncode == 0, done.stderr
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
