"""experiments/studies/toy_evaluate.py votes as the engine does: a solution without an answer votes
for "no answer" by default (strategy.unanswered: vote), or is left out with drop."""

import pytest

from infscale.experiments.app.build import load
from infscale.experiments.studies.toy_evaluate import vote


@pytest.fixture(scope="module")
def task():
    return load("task", "toy_arith", seed=0, n=4)


def test_missing_answers_vote_together_and_can_win(task):
    answers = ["12", None, "7", None, None]
    assert vote(task, answers) is None  # three "no answer" votes beat one each
    assert vote(task, answers, unanswered="drop") == "12"  # 1-1 tie: the group seen first
    assert vote(task, ["12", None, None, "12"]) == "12"  # 2-2 tie: "12" came first


def test_weighted_vote_counts_the_missing_answers_weights(task):
    answers, weights = ["7", None, "7"], [0.2, 0.9, 0.3]
    assert vote(task, answers, weights) is None  # 0.9 against 0.5
    assert vote(task, answers, weights, unanswered="drop") == "7"
    assert vote(task, answers, [0.3, 0.4, 0.2]) == "7"  # 0.5 against 0.4


def test_only_missing_answers(task):
    assert vote(task, [None, None]) is None
    assert vote(task, [None, None], unanswered="drop") is None


def test_unknown_mode_is_a_one_line_error(task):
    with pytest.raises(ValueError, match="unknown --unanswered 'maybe'"):
        vote(task, ["1"], unanswered="maybe")
