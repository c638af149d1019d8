"""Confidence intervals for accuracies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def bootstrap_ci(
    values: Sequence[float], confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (seeded: the same data give the same interval).
    Resamples are drawn in batches of about 2M values, so memory stays flat in the data size
    (batching does not change the draws)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to bootstrap: the run has zero problems")
    if np.all(data == data[0]):
        return float(data[0]), float(data[0])
    result = stats.bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
        batch=max(1, 2_000_000 // data.size),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
