"""Training the toy world's policies: recipes, model shapes, batches, checkpoints (the
training loop itself is `loop.py`).

The command line is `python -m infscale.experiments.training.train_toy` (train.py)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from infscale.experiments.training import loop
from infscale.experiments.training.loop import LoopSettings, Schedule
from infscale.rewards.qwen2_prm import IGNORE_INDEX
from infscale.tasks.toy_arith import LEVELS, TRAIN_SEED_BASE, draw, format_prompt, worked_solution
from infscale.tasks.toy_tokenizer import build_char_tokenizer, save_char_tokenizer

STATE_ROOT = Path("outputs/train_toy")


@dataclass(frozen=True)
class Recipe:
    architecture: dict[str, Any]
    lr: float
    steps: int
    batch: int = 64
    warmup: int = 100
    weight_decay: float = 0.01
    error_rate: float = 0.10
    train_seed: int = TRAIN_SEED_BASE
    stop: int | None = None  # end here, inside the schedule of `steps` (a run cut short for CPU time)
    extra: dict[str, Any] = field(default_factory=dict)


def _llama(hidden: int, layers: int, heads: int, intermediate: int) -> dict[str, Any]:
    return {
        "model_type": "llama",
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "head_dim": hidden // heads,
        "intermediate_size": intermediate,
        "max_position_embeddings": 512,
        "tie_word_embeddings": True,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
    }


RECIPES: dict[str, Recipe] = {
    "toy_small": Recipe(_llama(64, 3, 2, 192), lr=2e-3, steps=1500),
    "toy_large": Recipe(_llama(128, 4, 4, 384), lr=2e-3, steps=700, stop=500),
    # Like Qwen2.5-Math-PRM (initialised from Qwen2.5-Math-Instruct), the PRM starts from a
    # trained policy's backbone, which already does the arithmetic it has to check.
    "toy_prm": Recipe(
        {**_llama(128, 4, 4, 384), "model_type": "qwen2"},
        lr=3e-4,
        steps=1500,
        batch=64,
        warmup=50,
        train_seed=TRAIN_SEED_BASE + 1,
        extra={
            "problems": 4000,
            "samples_per_policy": 4,
            "temperature": 1.0,
            "policies": ["toy_small", "toy_large"],
            "init_from": "toy_large",
        },
    ),
}


def policy_batch(
    recipe: Recipe, step: int, vocab: dict[str, int], eos: int, offset: int = 0
) -> list[tuple[list[int], list[int]]]:
    """The `step`-th batch: (token ids, labels) pairs; the loss covers solution and EOS.

    All problems of a batch share one level (levels take turns), which keeps padding low.
    A continued run (`offset` = steps already trained) reads the batches after those.
    """
    step += offset
    rng = random.Random(f"toy_arith:{recipe.train_seed}:train:{step}")
    levels = sorted(LEVELS)
    level = levels[step % len(levels)]
    rows = []
    for _ in range(recipe.batch):
        start, ops = draw(rng, level)
        prompt = [vocab[c] for c in format_prompt(start, ops)]
        solution = [vocab[c] for c in worked_solution(start, ops, rng, recipe.error_rate)] + [eos]
        rows.append((prompt + solution, [IGNORE_INDEX] * len(prompt) + solution))
    return rows


def pad_rows(
    rows: Sequence[tuple[list[int], list[Any]]], pad: int, fill: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded token ids, per-token targets (`fill` where there is none) and the mask."""
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    targets = torch.full((len(rows), width), fill, dtype=dtype)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (x, y) in enumerate(rows):
        ids[i, : len(x)] = torch.tensor(x)
        targets[i, : len(y)] = torch.tensor(y, dtype=dtype)
        mask[i, : len(x)] = 1
    return ids, targets, mask


def collate(rows: list[tuple[list[int], list[int]]], pad: int) -> dict[str, torch.Tensor]:
    ids, labels, mask = pad_rows(rows, pad, IGNORE_INDEX, torch.long)
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def build_model(name: str, recipe: Recipe, vocab_size: int, special: dict[str, int]) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config

    arch = {k: v for k, v in recipe.architecture.items() if k != "model_type"}
    ids = {
        "vocab_size": vocab_size,
        "pad_token_id": special["pad"],
        "bos_token_id": special["bos"],
        "eos_token_id": special["eos"],
    }
    if recipe.architecture["model_type"] == "llama":
        return LlamaForCausalLM(LlamaConfig(**arch, **ids))
    from infscale.rewards.qwen2_prm import Qwen2ForProcessRewardModel

    config = Qwen2Config(**arch, **ids)
    config.architectures = ["Qwen2ForProcessRewardModel"]
    return Qwen2ForProcessRewardModel(config)


def train(
    name: str,
    recipe: Recipe,
    build: Callable[[], torch.nn.Module],
    batches: Callable[[int], dict[str, torch.Tensor]],
    state_dir: Path,
    seed: int = 0,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A recipe through the one training loop (`loop.py`): the trained model and its card fields."""
    schedule = Schedule(recipe.lr, recipe.steps, recipe.warmup)
    settings = LoopSettings(
        schedule, seed=seed, weight_decay=recipe.weight_decay, stop=recipe.stop, state_dir=state_dir, name=name
    )
    result = loop.train(build, batches, settings)
    return result.model, result.card(recipe.steps)


def save(name: str, model: torch.nn.Module, recipe: Recipe, card: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer = build_char_tokenizer()
    tokenizer.save_pretrained(str(out))
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    save_char_tokenizer(out.parent / "tokenizer")
    n_params = sum(p.numel() for p in model.parameters())
    card = {
        "name": name,
        "parameters": n_params,
        "architecture": recipe.architecture,
        "lr": recipe.lr,
        "batch": recipe.batch,
        "warmup": recipe.warmup,
        "weight_decay": recipe.weight_decay,
        "train_seed": recipe.train_seed,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        **card,
    }
    (out / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")


def previous_stages(out: Path) -> tuple[list[dict[str, Any]], int]:
    """The training stages recorded in the checkpoint's model card, and their total steps."""
    previous = json.loads((out / "model_card.json").read_text())
    stages = previous.get("stages") or [
        {k: previous[k] for k in ("steps", "lr", "warmup", "train_seconds", "final_loss")}
    ]
    return stages, sum(stage["steps"] for stage in stages)


def staged_card(name: str, recipe: Recipe, stages: list[dict[str, Any]], card: dict[str, Any]) -> dict[str, Any]:
    """Model-card fields for a model trained in stages (this run's `card` is the last)."""
    stages = [*stages, {"lr": recipe.lr, "warmup": recipe.warmup, **card}]
    return {
        "steps": sum(stage["steps"] for stage in stages),
        "train_seconds": round(sum(stage["train_seconds"] for stage in stages), 1),
        "final_loss": stages[-1]["final_loss"],
        "stages": stages,
        "commands": [f"python -m infscale.experiments.training.train_toy {name}"]
        + [
            f"python -m infscale.experiments.training.train_toy {name} --continue-steps {stage['steps']}"
            for stage in stages[1:]
        ],
    }


def train_policy(
    name: str, recipe: Recipe, out: Path, state_dir: Path, continue_steps: int | None = None, seed: int = 0
) -> None:
    """Train from scratch, or with `continue_steps` a further stage from the checkpoint in
    `out` (fresh warm-up and cosine over the new steps, on the batches after the old ones)."""
    from transformers import LlamaForCausalLM

    tokenizer = build_char_tokenizer()
    vocab = tokenizer.get_vocab()
    special = {"pad": tokenizer.pad_token_id, "bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id}
    stages: list[dict[str, Any]] = []
    offset = 0
    if continue_steps is None:
        build = lambda: build_model(name, recipe, len(vocab), special)  # noqa: E731
    else:
        stages, offset = previous_stages(out)
        build = lambda: LlamaForCausalLM.from_pretrained(str(out))  # noqa: E731
        recipe = Recipe(**{**recipe.__dict__, "steps": continue_steps, "stop": None})
        state_dir = state_dir.with_name(f"{state_dir.name}-after{offset}")
    model, card = train(
        name,
        recipe,
        build,
        lambda s: collate(policy_batch(recipe, s, vocab, special["eos"], offset), special["pad"]),
        state_dir,
        seed,
    )
    card = {
        **staged_card(name, recipe, stages, card),
        "task": "toy_arith",
        "error_rate": recipe.error_rate,
        "levels": "1-4 in turn, one level per batch",
        "data": f"random.Random('toy_arith:{recipe.train_seed}:train:<step>'), {recipe.batch} problems per step",
    }
    save(name, model, recipe, card, out)
