"""experiments/stats.py, the one statistics module, against numbers worked out by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from infscale.experiments.stats import (
    auc,
    draws_summary,
    labelled_auc,
    paired_difference,
    problem_draws,
    t_interval,
)


def test_auc_counts_pairs_and_half_ties():
    # pairs (positive, negative): (.9,.5) 1, (.9,.1) 1, (.5,.5) 1/2, (.5,.1) 1, twice for the two .5s
    assert auc([0.9, 0.5, 0.5], [0.5, 0.1]) == pytest.approx(5 / 6)
    assert auc([0.2], [0.8]) == 0.0 and auc([0.8], [0.2]) == 1.0


def test_labelled_auc_splits_by_label_and_needs_both_sides():
    assert labelled_auc([0.9, 0.5, 0.1, 0.5], [True, True, False, False]) == pytest.approx(7 / 8)
    assert labelled_auc([0.1, 0.2], [True, True]) is None


def test_auc_agrees_with_counting_every_pair():
    rng = np.random.default_rng(3)
    pos, neg = rng.integers(0, 5, 40) / 4, rng.integers(0, 5, 30) / 4  # many ties
    pairs = [1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg)]
    assert auc(pos, neg) == pytest.approx(sum(pairs) / len(pairs))


def test_t_interval_by_hand_and_clipped():
    mean, low, high = t_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / 3**0.5  # t(0.975, 2 df) * sd / sqrt(n)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert t_interval([0.9, 1.0, 1.0], bounds=(0.0, 1.0))[2] == 1.0
    assert t_interval([0.4]) == (0.4, 0.4, 0.4)


def test_draws_are_shared_so_a_constant_offset_has_a_point_interval():
    draws = problem_draws(50, resamples=300, seed=1)
    assert draws.shape == (300, 50) and draws.min() >= 0 and draws.max() < 50
    a = np.random.default_rng(0).random(50)
    assert draws_summary(a + 0.25, draws)[0] == pytest.approx(a.mean() + 0.25)
    assert paired_difference(a + 0.25, a) == pytest.approx((0.25, 0.25, 0.25))


def test_paired_difference_interval_covers_the_mean_and_is_seeded():
    a = [1.0] * 30 + [0.0] * 20
    b = [1.0] * 20 + [0.0] * 30
    mean, low, high = paired_difference(a, b, resamples=2000, seed=0)
    assert mean == pytest.approx(0.2) and low < 0.2 < high
    assert 0.05 < low and high < 0.35  # 10 of 50 problems differ: se = sqrt(0.2 * 0.8 / 50) = 0.057
    assert paired_difference(a, b, resamples=2000, seed=0) == (mean, low, high)
