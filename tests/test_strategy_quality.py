"""The simulated world reproduces the papers' qualitative findings."""

import numpy as np
import pytest

from infscale.experiments.app.build import load
from tests.engine_helpers import NOISE, PERFECT, accuracy, simulated_engine, strategy

TASK = load("task", "simulated", n=300, seed=3)


def paired_diff_ci(a, b, seed=0, n=4000):
    diff = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(n, len(diff)))].mean(axis=1)
    return diff.mean(), np.quantile(means, 0.025), np.quantile(means, 0.975)


def solve(name, prm, **params):
    engine = simulated_engine(task=TASK, prm=prm)
    return accuracy(engine.run(TASK.problems(), strategy(name, TASK, **params)))


@pytest.mark.slow
@pytest.mark.parametrize("tree_search", ["beam", "rebase"])
def test_with_a_perfect_prm_step_level_search_beats_majority_voting(tree_search):
    majority = solve("best_of_n", PERFECT, n=8, selector="majority")
    searched = solve(tree_search, PERFECT, n=8)
    mean, low, _ = paired_diff_ci(searched, majority)
    assert low > 0, f"{tree_search} {np.mean(searched):.3f} vs majority {np.mean(majority):.3f}"
    assert mean > 0.05


@pytest.mark.slow
def test_weighted_voting_follows_its_prm_signal_or_noise():
    # A perfect PRM makes weighted voting beat majority; pure noise makes it no better,
    # yet it is not majority voting in disguise: it decides differently on some problems.
    majority = solve("best_of_n", NOISE, n=8, selector="majority")
    noisy = solve("best_of_n", NOISE, n=8, selector="weighted")
    perfect = solve("best_of_n", PERFECT, n=8, selector="weighted")
    _, low, _ = paired_diff_ci(noisy, majority)
    assert low <= 0, f"weighted {np.mean(noisy):.3f} vs majority {np.mean(majority):.3f}"
    assert sum(a != b for a, b in zip(noisy, majority)) >= 5
    _, low, _ = paired_diff_ci(perfect, majority)
    assert low > 0, f"weighted with a perfect PRM {np.mean(perfect):.3f} vs majority {np.mean(majority):.3f}"


def test_greedy_is_not_an_oracle_and_sampling_voting_helps():
    greedy = solve("greedy", None)
    majority = solve("best_of_n", None, n=16, selector="majority")
    assert 0.3 < np.mean(greedy) < 0.9
    assert np.mean(majority) > np.mean(greedy)
