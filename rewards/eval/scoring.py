"""Per-step scores for a step-labelled set: from a reward model, or saved in the data.

Either way every item gets exactly one score in [0, 1] per step; anything else is an error
naming the item's file and line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tqdm import tqdm

from infscale.rewards.eval.data import Item
from infscale.rewards.transforms import TRANSFORMS
from infscale.search.backends import RewardModel, ScoreRequest


def saved_scores(items: Sequence[Item], transform: str = "none") -> list[list[float]]:
    """The `step_scores` field of every item (raw logits need `transform=sigmoid`)."""
    if transform not in TRANSFORMS:
        raise ValueError(f"step_scores_transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
    out = []
    for item in items:
        if item.step_scores is None:
            raise ValueError(f"{item.where}: reward=replay needs a 'step_scores' field on every line")
        out.append(checked(item, [TRANSFORMS[transform](s) for s in item.step_scores], "replay"))
    return out


def model_scores(
    items: Sequence[Item], reward: RewardModel, batch_size: int = 64, progress: bool = False
) -> list[list[float]]:
    """Score every item's steps with `reward`, `batch_size` trajectories per call."""
    if reward.outcome:
        raise ValueError(
            f"reward '{reward.name}' is an outcome model (one score per solution); step-level evaluation needs a PRM"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    out: list[list[float]] = []
    for start in tqdm(range(0, len(items), batch_size), disable=not progress, desc="scoring", unit="batch"):
        batch = items[start : start + batch_size]
        scores = reward.score([ScoreRequest(item.problem, item.steps) for item in batch])
        if len(scores) != len(batch):
            raise ValueError(
                f"reward '{reward.name}' returned {len(scores)} score lists for {len(batch)} items ({batch[0].where} onwards)"
            )
        out.extend(checked(item, values, reward.name) for item, values in zip(batch, scores))
    return out


def checked(item: Item, values: Sequence[float], reward_name: str) -> list[float]:
    if len(values) != len(item.steps):
        raise ValueError(
            f"{item.where}: reward '{reward_name}' returned {len(values)} scores for {len(item.steps)} steps"
        )
    values = [float(v) for v in values]
    bad = [v for v in values if not (math.isfinite(v) and 0.0 <= v <= 1.0)]
    if bad:
        raise ValueError(f"{item.where}: reward '{reward_name}' gave a score outside [0, 1]: {bad[0]!r}")
    return values
