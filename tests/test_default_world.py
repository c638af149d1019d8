"""`infscale-run` with no arguments runs the world the README, the demo and the model card
are about: the toy_sum ladder (its smallest policy, its learned PRM)."""

from __future__ import annotations

import yaml

from infscale.experiments.app.build import load_config
from tests.doc_blocks import REPO


def test_the_default_world_is_the_demos_toy_sum_ladder():
    cfg = load_config()
    assert (cfg.task.name, cfg.policy.name, cfg.reward.name, cfg.strategy.name) == (
        "toy_sum",
        "toy_sum_xs",
        "toy_sum_prm",
        "rebase",
    )
    demo = yaml.safe_load((REPO / "conf/experiment/pareto_toy_sum.yaml").read_text())
    overrides = {k: v for entry in demo["defaults"] for k, v in entry.items()}
    assert overrides["override /task"] == cfg.task.name and overrides["override /reward"] == cfg.reward.name
    assert overrides["override /policy"] == cfg.policy.name


def test_building_a_run_loads_checkpoints_without_a_bar_each(capfd):
    """A sweep of the ladder printed a "Loading weights" bar per checkpoint (48 in the demo)."""
    from transformers.utils import logging as transformers_logging

    from infscale.experiments.app.build import build

    transformers_logging.enable_progress_bar()
    build(load_config("task.n=1", "n_problems=1"))
    assert not transformers_logging.is_progress_bar_enabled()
    assert "Loading weights" not in capfd.readouterr().err
