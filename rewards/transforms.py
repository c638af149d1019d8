"""Score transforms: recorded raw scores (logits) -> probabilities in [0, 1]."""

from __future__ import annotations

from collections.abc import Callable

from scipy.special import expit

TRANSFORMS: dict[str, Callable[[float], float]] = {"sigmoid": lambda x: float(expit(x)), "none": lambda x: x}
