"""The ladder's PRMs (`experiments/training/ladder.py`, phases 4-5): training data from the kept
policies' own samples with their confident mistakes repeated, and training watched on step
AUC and best-of-N together."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infscale.experiments.stats import labelled_auc
from infscale.experiments.training import ladder_ops as ops
from infscale.experiments.training import loop
from infscale.experiments.training.ladder_metrics import choose, selection_curves
from infscale.experiments.training.loop import LoopSettings, Schedule
from infscale.tasks.toy_arith import TRAIN_SEED_BASE

PRM_TRAIN_SEED, PRM_VAL_SEED = TRAIN_SEED_BASE + 1, TRAIN_SEED_BASE + 2
PRM_WARMUP = 100


def policy_samples(model: torch.nn.Module, probs: list, n: int, temperature: float, seed: int) -> dict[str, Any]:
    """Greedy and n sampled solutions per problem, labelled by the checker."""
    prompts = [p.prompt for p in probs]
    greedy = [ops.label(p, t[0]) for p, t in zip(probs, ops.sample(model, prompts, 1, 0.0, seed))]
    texts = ops.sample(model, prompts, n, temperature, seed + 1)
    return {"greedy": greedy, "samples": [[ops.label(p, t) for t in ts] for p, ts in zip(probs, texts)]}


def hard_negatives(samples: list[dict[str, Any]], greedy: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy's confident mistakes on one problem: wrong solutions whose answer is its own
    majority answer, and its greedy solution when wrong."""
    answer = choose([r["answer"] for r in samples])
    key = None if answer is None else ops.TASK.answer_key(answer)
    hard = [
        r for r in samples if not r["correct"] and r["answer"] is not None and ops.TASK.answer_key(r["answer"]) == key
    ]
    return hard + ([greedy] if not greedy["correct"] and greedy["steps"] else [])


def build_rows(
    probs: list, by_policy: dict[str, dict[str, Any]], hard_repeat: int
) -> tuple[list[tuple[list[int], list[int]]], dict[str, Any]]:
    """(token ids, per-token labels) rows: every sampled solution once, hard negatives
    `hard_repeat` more times; labels 0/1 at step tags, IGNORE_INDEX elsewhere."""
    rows, counts = [], {"solutions": 0, "hard": 0, "steps": 0, "right_steps": 0}
    for data in by_policy.values():
        for p, samples, greedy in zip(probs, data["samples"], data["greedy"]):
            chosen = [(r, 1) for r in samples if r["steps"]]
            chosen += [(r, hard_repeat) for r in hard_negatives(samples, greedy)]
            for record, repeat in chosen:
                ids, tags = ops.encode_prm(p.prompt, record["steps"])
                labels = [ops.IGNORE_INDEX] * len(ids)
                for tag, ok in zip(tags, record["labels"]):
                    labels[tag] = int(ok)
                rows += [(ids, labels)] * repeat
                counts["solutions"] += repeat
                counts["hard"] += repeat if repeat > 1 else 0
                counts["steps"] += repeat * len(tags)
                counts["right_steps"] += repeat * sum(record["labels"])
    return rows, counts


def padded(rows: list[tuple[list[int], list[int]]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded (ids uint8, labels int8) matrices of the rows."""
    width = max(len(ids) for ids, _ in rows)
    ids = np.full((len(rows), width), ops.PAD, dtype=np.uint8)
    labels = np.full((len(rows), width), ops.IGNORE_INDEX, dtype=np.int8)
    for k, (i, y) in enumerate(rows):
        ids[k, : len(i)] = i
        labels[k, : len(y)] = y
    return torch.from_numpy(ids), torch.from_numpy(labels)


def row_batches(
    ids: torch.Tensor, labels: torch.Tensor, order: ops.EpochOrder
) -> Callable[[int], dict[str, torch.Tensor]]:
    """`batch(step)`: the rows `order(step)` picks from the padded matrices, cut to their width."""

    def batch(step: int) -> dict[str, torch.Tensor]:
        pick = order(step)
        width = int((ids[pick] != ops.PAD).sum(1).max())
        batch_ids = ids[pick, :width]
        return {"input_ids": batch_ids, "attention_mask": (batch_ids != ops.PAD).long(), "labels": labels[pick, :width]}

    return batch


def validate(model: torch.nn.Module, val: dict[str, Any]) -> dict[str, Any]:
    """Step AUC over all policies' validation samples, best-of-16 and weighted@16 per policy."""
    model.eval()
    out: dict[str, Any] = {}
    flat_scores, flat_labels, best, weighted, majority = [], [], [], [], []
    for name, data in val["policies"].items():
        items = [(p.prompt, r["steps"]) for p, rows in zip(val["problems"], data["samples"]) for r in rows]
        scores = ops.prm_scores(model, items)
        flat_scores += [s for row in scores for s in row]
        flat_labels += [ok for rows in data["samples"] for r in rows for ok in r["labels"]]
        n = len(data["samples"][0])
        per_problem = [scores[k * n : (k + 1) * n] for k in range(len(data["samples"]))]
        refs = [p.reference for p in val["problems"]]
        curves = selection_curves(data["samples"], refs, [16], per_problem)
        best.append(curves["best"][16])
        weighted.append(curves["weighted"][16])
        majority.append(curves["majority"][16])
        out[name] = {"best@16": curves["best"][16], "weighted@16": curves["weighted"][16], "majority@16": majority[-1]}
    model.train()
    out["step_auc"] = labelled_auc(flat_scores, flat_labels)
    out["best@16_mean"] = float(np.mean(best))
    out["weighted_minus_majority@16_mean"] = float(np.mean(weighted) - np.mean(majority))
    return out


def train_prm(name: str, init: str, work: Path, device: str, args: Any) -> None:
    """One PRM: Qwen2 of the init policy's shape, its backbone copied in, head fresh; the
    checkpoint with the highest step AUC + mean best-of-16 on validation is kept."""
    torch.backends.cuda.matmul.allow_tf32 = True
    data = torch.load(work / "prm_data.pt", weights_only=False)
    ids, labels = data["ids"].to(device).long(), data["labels"].to(device).long()
    order = ops.EpochOrder(len(ids), args.prm_batch, seed=1, device=device)
    history: list[dict[str, Any]] = []
    best: list[tuple[float, int]] = []

    batch = row_batches(ids, labels, order)

    def on_step(model: torch.nn.Module, done: int, loss: torch.Tensor, last: bool) -> None:
        if done % args.val_every and not last:
            return
        metrics = {"step": done, "loss": float(loss.detach()), **validate(model, data["val"])}
        history.append(metrics)
        print(name, json.dumps({k: v for k, v in metrics.items() if not isinstance(v, dict)}), flush=True)
        score = (metrics["step_auc"] or 0.0) + metrics["best@16_mean"]
        if not best or score > best[-1][0]:
            best.append((score, done))
            model.save_pretrained(str(work / name), safe_serialization=True)

    settings = LoopSettings(
        Schedule(args.prm_lr, args.prm_steps, PRM_WARMUP), seconds=args.prm_seconds, progress=False, name=name
    )
    result = loop.train(lambda: prm_from_policy(init, work / "kept" / init).to(device), batch, settings, on_step)
    info = {"steps": result.steps, "kept_step": best[-1][1], "seconds": round(result.seconds, 1), "history": history}
    (work / f"{name}.train.json").write_text(json.dumps(info) + "\n")


def prm_from_policy(init: str, policy_dir: Path) -> torch.nn.Module:
    """A Qwen2 PRM of the ladder policy `init`'s shape with that policy's backbone."""
    from transformers import Qwen2Config

    from infscale.experiments.training.toy_prm import load_policy_backbone
    from infscale.rewards.qwen2_prm import Qwen2ForProcessRewardModel

    config = Qwen2Config(**ops.architecture(init, "qwen2"))
    config.architectures = ["Qwen2ForProcessRewardModel"]
    model = Qwen2ForProcessRewardModel(config)
    load_policy_backbone(model, policy_dir)
    return model
