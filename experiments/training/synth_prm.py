"""Train a toy PRM on one synthesized label set (ground truth, MC hard/soft, judge, consensus).

Every label set goes through the same loss: cross-entropy of the two-class head against a
target probability per step (0/1 for hard labels, the MC share for soft labels), read at the
step tags `reward.adapter: toy` reads at scoring time. Steps after a solution's first
negative label are dropped, as in the paper. The network, recipe and initialisation are the
shipped `toy_prm`'s (`experiments/training/train_toy.py`), so label sets differ in nothing but labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from infscale.experiments.training.toy_policy import pad_rows
from infscale.rewards.synth.agreement import step_labels

IGNORE = -1.0
LABEL_SETS = ("ground_truth", "mc_hard", "mc_soft", "judge", "consensus")


def training_examples(records: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """(prompt, steps, per-step targets) from a stage's JSONL records, cut after the first negative.

    `ground_truth` reads `gt_label`, `mc_soft` the `mc_soft` shares; the others their `label`.
    """
    if kind not in LABEL_SETS:
        raise ValueError(f"unknown label set '{kind}' (known: {', '.join(LABEL_SETS)})")
    out = []
    for record in records:
        label = record["gt_label"] if kind == "ground_truth" else record["label"]
        if label is None:
            raise ValueError(f"record {record.get('id')}: no ground-truth label for label set '{kind}'")
        keep = len(record["steps"]) if label == -1 else label + 1
        if kind == "mc_soft":
            targets = [float(x) for x in record["mc_soft"][:keep]]
        else:
            targets = [float(ok) for ok in step_labels(label, keep)]
        out.append({"prompt": record["problem"], "steps": record["steps"][:keep], "targets": targets})
    return out


def encode(
    examples: Sequence[dict[str, Any]], adapter: Any, max_length: int = 512
) -> list[tuple[list[int], list[float]]]:
    """Token ids and a target per token (IGNORE except at the step tags)."""
    rows = []
    for example in examples:
        encoding = adapter.encode(example["prompt"], example["steps"], max_length)
        if len(encoding.positions) != len(example["targets"]):
            raise ValueError(
                f"adapter kept {len(encoding.positions)} of {len(example['targets'])} step tags: input too long"
            )
        targets = [IGNORE] * len(encoding.ids)
        for position, target in zip(encoding.positions, example["targets"]):
            targets[position] = target
        rows.append((list(encoding.ids), targets))
    return rows


def collate(rows: Sequence[tuple[list[int], list[float]]], pad: int) -> dict[str, torch.Tensor]:
    ids, targets, mask = pad_rows(rows, pad, IGNORE, torch.float32)
    return {"input_ids": ids, "attention_mask": mask, "targets": targets}


class SoftTargetPRM(nn.Module):
    """Wraps `Qwen2ForProcessRewardModel`: loss = cross-entropy against target probabilities."""

    def __init__(self, prm: nn.Module) -> None:
        super().__init__()
        self.prm = prm

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, targets: torch.Tensor) -> SimpleNamespace:
        logits = self.prm(input_ids=input_ids, attention_mask=attention_mask).logits
        where = targets >= 0
        log_p = torch.log_softmax(logits[where].float(), dim=-1)
        target = targets[where]
        loss = -(target * log_p[:, 1] + (1 - target) * log_p[:, 0]).mean()
        return SimpleNamespace(loss=loss, logits=logits)
