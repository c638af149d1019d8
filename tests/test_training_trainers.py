"""Every toy trainer's entry, run for a few steps on CPU through the one training loop: the
loss falls and a checkpoint appears. (The lessons study's PRMs: tests/test_prm_lessons.py.)"""

from __future__ import annotations

import json
import math
from argparse import Namespace
from dataclasses import replace

import numpy as np
import pytest
import torch

from infscale.experiments.training import ladder, ladder_prm
from infscale.experiments.training import ladder_ops as ops
from infscale.experiments.training.toy_policy import RECIPES, _llama, train_policy
from infscale.experiments.training.toy_prm import train_prm
from infscale.tasks.toy_arith import TRAIN_SEED_BASE

pytestmark = pytest.mark.timeout(600)
UNIFORM = math.log(100)  # cross-entropy of a uniform guess over the character vocabulary


def test_toy_policy_trainer_goes_through_the_loop(tmp_path):
    recipe = replace(RECIPES["toy_small"], architecture=_llama(32, 1, 2, 64), lr=1e-2, steps=40, batch=8, warmup=5)
    train_policy("tiny", recipe, tmp_path / "out", tmp_path / "state", seed=3)
    card = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert (tmp_path / "out" / "model.safetensors").exists()
    assert card["steps"] == 40 and card["lr"] == 1e-2 and card["stages"][0]["schedule_steps"] == 40
    assert card["final_loss"] < UNIFORM - 1.5  # the mean over all 40 steps, from ~4.6 at the start
    # a further stage continues from the saved model, on the batches after the first 40
    train_policy("tiny", recipe, tmp_path / "out", tmp_path / "state", continue_steps=10)
    staged = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert staged["steps"] == 50 and [s["steps"] for s in staged["stages"]] == [40, 10]
    assert staged["final_loss"] < card["final_loss"]


def test_toy_prm_trainer_goes_through_the_loop(tmp_path):
    recipe = replace(
        RECIPES["toy_prm"],
        architecture={**_llama(32, 1, 2, 64), "model_type": "qwen2"},
        lr=3e-3,
        steps=30,
        batch=8,
        warmup=3,
        extra={"problems": 40, "samples_per_policy": 2, "temperature": 1.0, "policies": ["toy_small"]},
    )
    train_prm("tiny_prm", recipe, tmp_path / "out", tmp_path / "state", seed=0)
    card = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert (tmp_path / "out" / "model.safetensors").exists()
    assert card["steps"] == 30 and card["init_from"] is None
    assert card["final_loss"] < math.log(2)  # below a fresh two-class head's
    assert (tmp_path / "state" / "samples_toy_small.jsonl").exists()


@pytest.fixture(scope="module")
def ladder_work(tmp_path_factory):
    work = tmp_path_factory.mktemp("ladder")
    np.save(work / "data.npy", ops.training_block((TRAIN_SEED_BASE, 0, 512, 128)))
    return work


def test_ladder_policy_trainer_goes_through_the_loop(ladder_work):
    args = Namespace(batch=16, policy_steps=100, policy_seconds=600.0, checkpoints=[50])
    ladder.train_policy("toy_sum_xs", ladder_work, "cpu", args)
    info = json.loads((ladder_work / "toy_sum_xs" / "train.json").read_text())
    assert info["steps"] == 100 and [step for step, _ in info["losses"]] == [50, 100]
    assert info["losses"][1][1] < info["losses"][0][1] < UNIFORM
    assert (ladder_work / "toy_sum_xs" / "step_50" / "model.safetensors").exists()
    assert (ladder_work / "toy_sum_xs" / "step_100" / "model.safetensors").exists()


def test_ladder_prm_trainer_goes_through_the_loop(ladder_work):
    if not (ladder_work / "toy_sum_xs" / "step_100").exists():
        test_ladder_policy_trainer_goes_through_the_loop(ladder_work)
    policy = ladder_work / "kept" / "toy_sum_xs"
    policy.parent.mkdir(exist_ok=True)
    (ladder_work / "toy_sum_xs" / "step_100").rename(policy)
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(str(policy)).eval()
    train_probs, val_probs = ops.problems(ladder_prm.PRM_TRAIN_SEED, 8), ops.problems(ladder_prm.PRM_VAL_SEED, 2)
    samples = ladder_prm.policy_samples(model, train_probs, 4, 1.0, 21)
    rows, counts = ladder_prm.build_rows(train_probs, {"toy_sum_xs": samples}, 3)
    ids, labels = ladder_prm.padded(rows)
    val = {"problems": val_probs, "policies": {"toy_sum_xs": ladder_prm.policy_samples(model, val_probs, 16, 1.0, 23)}}
    torch.save({"ids": ids, "labels": labels, "val": val}, ladder_work / "prm_data.pt")
    args = Namespace(prm_lr=3e-3, prm_batch=16, prm_steps=40, prm_seconds=600.0, val_every=20)
    ladder_prm.train_prm("toy_sum_prm_xs", "toy_sum_xs", ladder_work, "cpu", args)
    info = json.loads((ladder_work / "toy_sum_prm_xs.train.json").read_text())
    assert info["steps"] == 40 and [h["step"] for h in info["history"]] == [20, 40]
    assert info["history"][-1]["loss"] < math.log(2) and info["kept_step"] in (20, 40)
    assert (ladder_work / "toy_sum_prm_xs" / "model.safetensors").exists()
    assert counts["solutions"] >= 32
