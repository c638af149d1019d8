"""The tutorial's worked example strategy (search/strategies/adaptive.py) through the engine."""

import pytest

from infscale.experiments.build import build
from infscale.experiments.run import run
from tests.conftest import make_config, read_results

PROBLEMS = 60


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for name, overrides in {
        "adaptive": ["strategy=adaptive", "strategy.n=16", "strategy.batch=4", "strategy.agreement=0.7"],
        "one_round": ["strategy=adaptive", "strategy.n=16", "strategy.batch=16", "strategy.agreement=1.0"],
        "majority": ["strategy=best_of_n_majority", "strategy.n=16"],
    }.items():
        folder = tmp_path_factory.mktemp(name)
        summary = run(make_config(*overrides, f"n_problems={PROBLEMS}"), folder)
        out[name] = (summary, read_results(folder))
    return out


def test_one_round_of_n_is_exactly_best_of_n_majority(runs):
    """batch = n draws the same n samples (same seeds) as best-of-N, and votes the same way."""
    one_round, majority = runs["one_round"][1], runs["majority"][1]
    assert [r["answer"] for r in one_round] == [r["answer"] for r in majority]
    assert [r["flops"]["total"] for r in one_round] == [r["flops"]["total"] for r in majority]


def test_stops_early_when_answers_agree(runs):
    summary, records = runs["adaptive"]
    samples = [r["samples"] for r in records]
    assert all(4 <= s <= 16 and s % 4 == 0 for s in samples)
    assert sum(samples) / len(samples) < 0.85 * 16
    assert 4 in samples and 16 in samples
    for record in records:
        if record["samples"] < 16:
            answers = [c["answer"] for c in record["candidates"]]
            top = max(answers.count(a) for a in set(answers) if a is not None)
            assert top >= 0.7 * len(answers)
    assert summary["flops_total"] < runs["majority"][0]["flops_total"]
    assert summary["accuracy"] >= runs["majority"][0]["accuracy"] - 0.1


def test_bad_options_name_the_key():
    with pytest.raises(ValueError, match="strategy.agreement must lie in"):
        build(make_config("strategy=adaptive", "strategy.agreement=1.5"))
    with pytest.raises(ValueError, match="strategy.batch must be a positive integer"):
        build(make_config("strategy=adaptive", "strategy.batch=0"))
