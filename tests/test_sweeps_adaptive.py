"""The tutorial's worked example strategy (search/strategies/adaptive.py) through the engine."""

import pytest

from infscale.experiments.app.build import build
from infscale.experiments.app.run import run
from tests.conftest import make_config, read_results
from tests.scripted_world import Script, ScriptedPolicy, run_scripted

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


# --- the stopping rule in a scripted world (tests/scripted_world.py): root sample k ends at
# once with answer `answers[str(k)]`, so each round's answers are written by hand


def _adaptive(answers: dict[str, str], max_steps: int = 12, **params):
    script = Script(scores={"1": 0.1, "2": 0.1, "3": 0.9}, answers=answers)
    policy = ScriptedPolicy(script, max_steps=max_steps)
    tree, decision = run_scripted(script, "adaptive", policy=policy, **params)
    return tree, decision, [request.n for request in policy.requests]


def test_adaptive_stops_in_the_round_the_largest_group_reaches_the_agreement():
    # rounds of 2: [A, B] holds 1/2 < 0.75; [A, B, A, A] holds 3/4, exactly 0.75: stop there
    answers = {"1": "A", "2": "B", "3": "A", "4": "A", **{str(k): "B" for k in range(5, 9)}}
    tree, decision, rounds = _adaptive(answers, n=8, batch=2, agreement=0.75)
    assert rounds == [2, 2]
    assert len(tree.root.children) == 4 and decision.answer == "A"


def test_adaptive_counts_unanswered_samples_in_the_share():
    # sample 1 gives no answer (its chain runs out of steps): after [-, A] the share is
    # 1/2 < 0.6, after [-, A, A] 2/3 >= 0.6
    answers = {"2": "A", "3": "A", "4": "B", "5": "B"}
    tree, decision, rounds = _adaptive(answers, max_steps=2, n=5, batch=1, agreement=0.6)
    assert rounds == [1, 1, 1]
    assert [c.answer for c in tree.root.children] == [None, "A", "A"] and decision.answer == "A"


def test_adaptive_spends_the_whole_width_in_rounds_when_nothing_agrees():
    answers = {str(k): f"X{k}" for k in range(1, 9)}
    tree, decision, rounds = _adaptive(answers, n=5, batch=2, agreement=0.6)
    assert rounds == [2, 2, 1]  # the last round only what is left of n
    assert len(tree.root.children) == 5 and decision.answer == "X1"  # a 1-1-1-1-1 tie: the first group


def test_adaptive_scores_its_samples_for_a_weighted_vote():
    # A twice at 0.1, B once at 0.9: majority says A, the weighted vote B; all three scored
    answers = {"1": "A", "2": "A", "3": "B"}
    tree, decision, _ = _adaptive(answers, n=3, batch=3, agreement=1.0, selector="weighted")
    assert all(c.step_scores is not None for c in tree.root.children)
    assert decision.answer == "B"
    _, majority, _ = _adaptive(answers, n=3, batch=3, agreement=1.0, selector="majority")
    assert majority.answer == "A"


def test_adaptive_draws_whole_solutions():
    # the answers sit two steps down: each round must run its samples to their ends
    answers = {"1.1": "A", "2.1": "A", "3.1": "B"}
    tree, decision, rounds = _adaptive(answers, n=4, batch=2, agreement=1.0)
    assert rounds == [2] and decision.answer == "A"
    assert [c.answer for c in tree.root.children] == ["A", "A"] and all(c.terminal for c in tree.root.children)


def test_adaptive_stops_when_the_budget_refuses_a_round_and_still_decides(tmp_path):
    summary = run(
        make_config(
            "strategy=adaptive",
            "strategy.n=8",
            "strategy.batch=2",
            "strategy.agreement=1.0",
            "budget.max_samples=3",
            "n_problems=6",
        ),
        tmp_path,
    )
    records = read_results(tmp_path)
    assert {r["samples"] for r in records} == {3} and summary["n_problems"] == 6
    assert all(r["n_finished"] == 3 and r["answer"] is not None for r in records)


def test_a_strategy_must_sample_until_a_step_or_an_end():
    from infscale.search.ops import Expand

    assert Expand([], n=1).until == "step" and Expand([], n=1, until="end").until == "end"
    with pytest.raises(ValueError, match=r"^Expand\(until='END'\): a strategy samples until 'step' or 'end'$"):
        Expand([], n=1, until="END")
