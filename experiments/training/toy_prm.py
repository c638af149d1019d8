"""Train `toy_prm` on the toy policies' own sampled solutions, labelled by the exact checker.

Data: problems from `random.Random("toy_arith:<train_seed>:prm:<i>")` (levels in turn), each
solved `samples_per_policy` times at temperature 1 by each policy of the recipe; every
step is labelled with ProcessBench's first-error convention (`ToyArithTask.process_labels`).
The input and read positions are exactly those of the scoring backend (`reward=hf_prm`,
`adapter: toy`): prompt, then each step followed by its newline tag. The last 10% of the
problems are held out for the step-level AUC and ProcessBench F1 written to the model card.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from infscale.experiments.app.build import load
from infscale.experiments.stats import auc
from infscale.experiments.training.loop import epoch_batch
from infscale.rewards.eval.processbench import evaluate, fit_tau
from infscale.rewards.eval.truth import first_error
from infscale.rewards.prm_adapters.toy import ToyAdapter
from infscale.rewards.qwen2_prm import IGNORE_INDEX
from infscale.search.backends import GenerationRequest
from infscale.tasks.base import Problem
from infscale.tasks.toy_arith import LEVELS, apply, draw, format_prompt
from infscale.tasks.toy_tokenizer import build_char_tokenizer


def prm_problems(train_seed: int, count: int) -> list[Problem]:
    levels = sorted(LEVELS)
    problems = []
    for i in range(count):
        level = levels[i % len(levels)]
        start, ops = draw(random.Random(f"toy_arith:{train_seed}:prm:{i}"), level)
        value = start
        for op, k in ops:
            value = apply(value, op, k)
        problems.append(Problem(id=f"prm-{i}", prompt=format_prompt(start, ops), reference=str(value), level=level))
    return problems


def sample_solutions(policy_dir: Path, problems: list[Problem], n: int, temperature: float, seed: int) -> list[str]:
    """n sampled full solutions per problem, in problem order."""
    policy = load("policy", "hf", path=str(policy_dir), max_batch=256)
    texts: list[str] = []
    chunk = 64
    for start in tqdm(range(0, len(problems), chunk), desc=f"sampling {policy_dir.name}"):
        requests = [
            GenerationRequest(p.prompt, n, "end", "\n", 128, temperature, seed + 1000 * (start + k))
            for k, p in enumerate(problems[start : start + chunk])
        ]
        texts += [s.text for result in policy.generate(requests) for s in result.samples]
    return texts


def policy_records(recipe: Any, checkpoints: Path, state_dir: Path, name: str) -> list[dict[str, Any]]:
    """One policy's sampled, labelled solutions (cached in `state_dir/samples_<name>.jsonl`,
    so an interrupted run resumes and the policies can be sampled in separate processes)."""
    cache = state_dir / f"samples_{name}.jsonl"
    if cache.exists():
        return [json.loads(line) for line in cache.read_text().splitlines()]
    task = load("task", "toy_arith")
    problems = prm_problems(recipe.train_seed, recipe.extra["problems"])
    n = recipe.extra["samples_per_policy"]
    texts = sample_solutions(checkpoints / name, problems, n, recipe.extra["temperature"], recipe.train_seed)
    records = []
    for k, text in enumerate(texts):
        problem = problems[k // n]
        steps = task.split_steps(text)
        if steps:
            records.append(
                {
                    "problem": k // n,
                    "policy": name,
                    "prompt": problem.prompt,
                    "level": problem.level,
                    "steps": steps,
                    "labels": task.process_labels(problem, steps),
                }
            )
    state_dir.mkdir(parents=True, exist_ok=True)
    cache.write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


def encode_all(records: list[dict[str, Any]], adapter: ToyAdapter) -> list[tuple[list[int], list[int]]]:
    rows = []
    for r in records:
        encoding = adapter.encode(r["prompt"], r["steps"], 512)
        labels = [IGNORE_INDEX] * len(encoding.ids)
        for position, ok in zip(encoding.positions, r["labels"]):
            labels[position] = int(ok)
        rows.append((list(encoding.ids), labels))
    return rows


@torch.no_grad()
def step_scores(model: torch.nn.Module, rows: list[tuple[list[int], list[int]]], pad: int) -> list[list[float]]:
    from infscale.experiments.training.toy_policy import collate
    from infscale.rewards.qwen2_prm import positive_probabilities

    model.eval()
    out = []
    for start in range(0, len(rows), 256):
        batch = collate(rows[start : start + 256], pad)
        probs = positive_probabilities(
            model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        )
        for k in range(len(batch["input_ids"])):
            where = batch["labels"][k] != IGNORE_INDEX
            out.append(probs[k][where].tolist())
    return out


def heldout_metrics(records: list[dict[str, Any]], scores: list[list[float]]) -> dict[str, Any]:
    flat_scores = [s for row in scores for s in row]
    flat_labels = [ok for r in records for ok in r["labels"]]
    labels = [first_error(r["labels"]) for r in records]
    both = any(y < 0 for y in labels) and any(y >= 0 for y in labels)
    tau = fit_tau({"heldout": (labels, scores)}) if both else None
    report = evaluate({"heldout": (labels, scores)}, 0.5)["subsets"]["heldout"]
    fitted = evaluate({"heldout": (labels, scores)}, tau)["subsets"]["heldout"] if both else {"f1": None}
    return {
        "heldout_solutions": len(records),
        "heldout_steps": len(flat_labels),
        "heldout_step_correct_share": float(np.mean(flat_labels)),
        "step_auc": None
        if all(flat_labels) or not any(flat_labels)
        else auc(
            [s for s, ok in zip(flat_scores, flat_labels) if ok],
            [s for s, ok in zip(flat_scores, flat_labels) if not ok],
        ),
        "processbench_f1_tau_0.5": report["f1"],
        "processbench_acc_err_tau_0.5": report["acc_err"],
        "processbench_acc_cor_tau_0.5": report["acc_cor"],
        "fitted_tau": tau,
        "processbench_f1_fitted_tau": fitted["f1"],
    }


def load_policy_backbone(prm: torch.nn.Module, policy_dir: Path) -> None:
    """Copy a Llama policy's backbone into the Qwen2 PRM of the same shape.

    The two architectures differ only in Qwen2's q/k/v biases, which start at zero, so the
    PRM's hidden states start equal to the policy's; the score head starts fresh.
    """
    from safetensors.torch import load_file

    weights = {k: v for k, v in load_file(str(policy_dir / "model.safetensors")).items() if k.startswith("model.")}
    missing, unexpected = prm.load_state_dict(weights, strict=False)
    fresh = [
        k for k in missing if not (k.startswith("score.") or k.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")))
    ]
    if fresh or unexpected:
        raise ValueError(f"policy {policy_dir} does not fit the PRM: missing {fresh[:3]}, unexpected {unexpected[:3]}")
    for name, parameter in prm.named_parameters():
        if name.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")):
            torch.nn.init.zeros_(parameter)


def train_prm(
    name: str, recipe: Any, out: Path, state_dir: Path, continue_steps: int | None = None, seed: int = 0
) -> None:
    """Train from the recipe's initialisation, or with `continue_steps` a further stage from
    the PRM in `out` (fresh warm-up and cosine, on the batches after the old ones)."""
    from infscale.experiments.training.toy_policy import (
        Recipe,
        build_model,
        collate,
        previous_stages,
        save,
        staged_card,
        train,
    )
    from infscale.rewards.qwen2_prm import Qwen2ForProcessRewardModel
    from infscale.tasks.toy_arith import CHECKPOINTS

    tokenizer = build_char_tokenizer()
    policies = recipe.extra["policies"]
    records = [r for name in policies for r in policy_records(recipe, CHECKPOINTS, state_dir, name)]
    cut = int(recipe.extra["problems"] * 0.9)
    train_records = [r for r in records if r["problem"] < cut]
    held_records = [r for r in records if r["problem"] >= cut]
    adapter = ToyAdapter(tokenizer)
    train_rows, held_rows = encode_all(train_records, adapter), encode_all(held_records, adapter)
    special = {"pad": tokenizer.pad_token_id, "bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id}
    stages: list[dict[str, Any]] = []
    offset = 0
    if continue_steps is None:

        def build() -> torch.nn.Module:
            model = build_model(name, recipe, len(tokenizer), special)
            if recipe.extra.get("init_from"):
                load_policy_backbone(model, CHECKPOINTS / recipe.extra["init_from"])
            return model

    else:
        stages, offset = previous_stages(out)
        build = lambda: Qwen2ForProcessRewardModel.from_pretrained(str(out))  # noqa: E731
        recipe = Recipe(**{**recipe.__dict__, "steps": continue_steps, "stop": None})
        state_dir = state_dir / f"after{offset}"
    model, card = train(
        name,
        recipe,
        build,
        lambda s: collate(
            epoch_batch(train_rows, s + offset, recipe.batch, lambda epoch: f"{recipe.train_seed}:epoch:{epoch}"),
            special["pad"],
        ),
        state_dir,
        seed,
    )
    card = staged_card(name, recipe, stages, card)
    card.update(
        {
            "task": "toy_arith",
            "data": (
                f"{len(train_records)} solutions sampled at temperature {recipe.extra['temperature']} by "
                f"{', '.join(policies)} on problems 0..{cut - 1} of random.Random('toy_arith:{recipe.train_seed}:prm:<i>'), "
                "first-error step labels from ToyArithTask.process_labels"
            ),
            "train_step_correct_share": float(np.mean([ok for r in train_records for ok in r["labels"]])),
            "read_out": "softmax(score(h))[1] at the newline tag after each step (reward.adapter: toy)",
            "init_from": recipe.extra.get("init_from"),
            **heldout_metrics(held_records, step_scores(model, held_rows, special["pad"])),
        }
    )
    save(name, model, recipe, card, out)
