"""What analysis shows first: "compute to reach" rows that say something before the trivial
ones, and the optimal-size fit drawn only over the model sizes measured."""

from __future__ import annotations

import math

import numpy as np

from infscale.experiments.analysis.analyze import trivial_saving
from infscale.experiments.analysis.figures import size_fit_curve
from infscale.experiments.analysis.report import headline


def saving(a: str, ratio: float, low: float | None, high: float | None) -> dict:
    return dict(a=a, b="B", target_accuracy=0.8, x="flops_total", ratio=ratio, ratio_lo=low, ratio_hi=high,
                cost_a=ratio * 1e9, cost_b=1e9)  # fmt: skip


def test_trivial_savings_come_last():
    rows = [
        saving("zero", 0.001, 0.0, 0.5),
        saving("unbounded", 0.1, 0.05, math.inf),
        saving("from_zero", 0.2, 0.0, 0.4),
        saving("informative", 0.3, 0.2, 0.45),
        saving("no_interval", 0.05, None, None),
    ]
    assert [trivial_saving(r) for r in rows] == [True, True, True, False, True]
    assert headline(rows)[0].startswith("informative reaches B's best accuracy 0.800 at 0.30x")


def test_the_size_fit_stays_within_the_ladder():
    fit = {"intercept": -1.0, "slope": 0.75}  # N = 0.1 C^0.75: 1e4 at C = 1e6.67, 5.6e7 at C = 1e11
    grid, values = size_fit_curve(fit, [1e6, 1e11], [2.7e4, 1.6e5, 8.5e5])
    assert values.min() >= 2.7e4 and values.max() <= 8.5e5
    assert np.allclose(values, 0.1 * grid**0.75)
    assert grid.min() > 1e6 and grid.max() < 1e11  # cut at both ends
    assert values.max() > 8e5  # and reaches the largest size
