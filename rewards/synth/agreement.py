"""How well synthesized step labels agree with the ground truth.

Labels are compared two ways: by the first-error index (what ProcessBench scores) and step
by step, each step's label being "the solution is still right after this step". For MC
estimation the raw per-step hard labels are also compared, which separates its two failure
modes: false negatives (the completer fails from a right prefix) and false positives (a
wrong prefix still reaches the right answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def step_labels(label: int, n_steps: int) -> list[bool]:
    """Per-step labels implied by a first-error index."""
    return [label == -1 or i < label for i in range(n_steps)]


def rates(predicted: Sequence[Sequence[bool]], reference: Sequence[Sequence[bool]]) -> dict[str, float | int | None]:
    """Step accuracy, false-negative rate (right steps called wrong), false-positive rate;
    steps without a prediction (None: dropped after a first negative) are left out."""
    pairs = [
        (p, r)
        for ps, rs in zip(predicted, reference, strict=True)
        for p, r in zip(ps, rs, strict=True)
        if p is not None
    ]
    right = [p for p, r in pairs if r]
    wrong = [p for p, r in pairs if not r]
    return {
        "n_steps": len(pairs),
        "step_accuracy": sum(p == r for p, r in pairs) / len(pairs) if pairs else None,
        "false_negative_rate": sum(not p for p in right) / len(right) if right else None,
        "false_positive_rate": sum(wrong) / len(wrong) if wrong else None,
    }


def agreement(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Agreement of records' `label` with their `gt_label` (None when there is no truth)."""
    known = [r for r in records if r.get("gt_label") is not None]
    if not known:
        return None
    n_steps = [len(r["steps"]) for r in known]
    report = {
        "n": len(known),
        "first_error_agreement": sum(r["label"] == r["gt_label"] for r in known) / len(known),
        **rates(
            [step_labels(r["label"], n) for r, n in zip(known, n_steps)],
            [step_labels(r["gt_label"], n) for r, n in zip(known, n_steps)],
        ),
    }
    if all("mc_hard" in r for r in known):
        raw = rates([r["mc_hard"] for r in known], [step_labels(r["gt_label"], n) for r, n in zip(known, n_steps)])
        report["mc_raw"] = raw
    return report
