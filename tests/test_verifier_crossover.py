"""The verifier-crossover study: its verifier dial on toy_sum, equal-compute differences, the
zero crossing and its interval, and (slow tier) the study's smallest setting end to end."""

from __future__ import annotations

import csv
import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy.stats import binom

from infscale.experiments.analysis.crossover import crossing_interval, equal_compute_correct, zero_crossing
from infscale.experiments.app.build import load
from infscale.tasks.toy_sum import ToySumTask
from tests.test_oracle_dial import requests_with_labels

TASK = ToySumTask(seed=5, level="mixed", n=600)


@pytest.mark.parametrize("label_noise", [0.0, 0.05, 0.2, 0.4])
def test_noisy_oracle_step_error_rate_matches_the_yaml_formula(label_noise):
    reward = load("reward", "noisy_oracle_toy_sum_prm", task=TASK, label_noise=label_noise, seed=3)
    assert reward.score_noise == 0.3 and reward.spec is not None  # charged as toy_sum_prm
    requests, labels = requests_with_labels(TASK)
    assert len(labels) > 3000 and 0.15 < labels.count(False) / len(labels) < 0.6
    scores = [s for row in reward.score(requests) for s in row]
    wrong = sum((s > 0.5) != ok for s, ok in zip(scores, labels))
    q = NormalDist().cdf(-0.5 / 0.3)  # the formula of conf/reward/noisy_oracle.yaml's comment
    expected = label_noise * (1 - q) + (1 - label_noise) * q
    low, high = binom.interval(0.999, len(labels), expected)
    assert low <= wrong <= high, (wrong / len(labels), expected)


def test_zero_crossing_of_constructed_differences():
    # y rises through zero between x = 0.7 (y = -1) and 0.8 (y = +1): the crossing is 0.75
    assert zero_crossing([0.6, 0.7, 0.8, 0.9], [-3.0, -1.0, 1.0, 2.0]) == pytest.approx(0.75)
    # the order of the points does not matter; a NaN point is left out
    assert zero_crossing([0.9, 0.6, 0.8, 0.7, 0.65], [2.0, -3.0, 3.0, -1.0, np.nan]) == pytest.approx(0.725)
    # a dip back below zero moves the crossing to the last sign change
    assert zero_crossing([0.5, 0.6, 0.7, 0.8], [-1.0, 1.0, -2.0, 2.0]) == pytest.approx(0.75)
    assert zero_crossing([0.6, 0.9], [0.5, 1.0]) == -math.inf
    assert zero_crossing([0.6, 0.9], [-0.5, 0.0]) == math.inf
    assert math.isnan(zero_crossing([np.nan, 0.9], [1.0, np.nan]))
    with pytest.raises(ValueError, match="3 x values for 2 y values"):
        zero_crossing([0.1, 0.2, 0.3], [1.0, 2.0])


def test_crossing_interval_over_replicates():
    x = np.tile([0.6, 0.7, 0.8, 0.9], (5, 1))
    shifts = np.array([-0.5, -0.25, 0.0, 0.25, 0.5])[:, None]
    y = np.array([-3.0, -1.0, 1.0, 2.0])[None, :] + shifts  # crossings 0.775, 0.7625, 0.75, 0.7375, 0.725
    low, high, share = crossing_interval(x, y)
    assert 0.725 <= low < 0.75 < high <= 0.775 and share == 1.0
    y[0] = -1.0  # one replicate never crosses: its crossing is +inf, the share in range drops
    assert crossing_interval(x, y)[1:] == (math.inf, 0.8)
    x[0] = np.nan  # a replicate whose AUCs cannot be measured is left out of the interval
    assert crossing_interval(x, y) == (0.725, 0.7625, 0.8)


def test_equal_compute_reads_the_curve_in_log_compute():
    costs = [4.0, 1.0, 2.0]  # any order
    correct = [[1.0, 1.0], [0.0, 0.5], [0.5, 0.0]]
    assert equal_compute_correct(costs, correct, 2.0).tolist() == [0.5, 0.0]
    # sqrt(8) lies halfway between 2 and 4 in log compute
    assert equal_compute_correct(costs, correct, math.sqrt(8.0)) == pytest.approx([0.75, 0.5])
    assert equal_compute_correct(costs, correct, 1.0).tolist() == [0.0, 0.5]
    assert equal_compute_correct(costs, correct, 4.5) is None and equal_compute_correct(costs, correct, 0.5) is None
    with pytest.raises(ValueError, match="3 costs for 2 rows"):
        equal_compute_correct(costs, correct[:2], 2.0)


@pytest.mark.slow
def test_smallest_study_runs_end_to_end(tmp_path):
    from infscale.experiments.studies import verifier_crossover

    args = ["--problems", "2", "--label-noise", "0", "0.4", "--prms", "toy_sum_prm", "--strategies", "rebase"]
    args += ["--ns", "2", "--policies", "toy_sum_xs", "--auc-problems", "6", "--auc-samples", "1"]
    args += ["--resamples", "20", "--root", str(tmp_path / "w"), "--results", str(tmp_path), "--docs", str(tmp_path)]
    verifier_crossover.main(args)
    with (tmp_path / "crossover_points.csv").open() as handle:
        points = list(csv.DictReader(handle))
    assert {p["verifier"] for p in points} == {
        "noisy_oracle_toy_sum_prm@0",
        "noisy_oracle_toy_sum_prm@0.4",
        "toy_sum_prm",
    }
    assert all(p["problems"] == "2" and p["strategy"] == "rebase" and p["n"] == "2" for p in points)
    aucs = {p["verifier"]: float(p["step_auc"]) for p in points}
    assert aucs["noisy_oracle_toy_sum_prm@0"] > 0.95 > aucs["noisy_oracle_toy_sum_prm@0.4"]
    with (tmp_path / "crossover_thresholds.csv").open() as handle:
        (threshold,) = list(csv.DictReader(handle))
    assert threshold["policy"] == "toy_sum_xs" and threshold["levels"] == "2"
    assert (tmp_path / "crossover.png").stat().st_size > 10_000
    # a rerun starts no run (every job is finished) and writes the same numbers
    before = (tmp_path / "crossover_points.csv").read_text()
    verifier_crossover.main(args)
    assert (tmp_path / "crossover_points.csv").read_text() == before
