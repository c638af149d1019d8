"""Greedy and best-of-N in the hand-scripted world: what they ask the policy for, and what
they decide (tests/scripted_world.py)."""

import pytest

from tests.engine_helpers import strategy
from tests.scripted_world import TASK, Script, ScriptedPolicy, children_labels, run_scripted

# Root children 1..4 each run to the end through their first children (1.1, 1.1.1, ...).
ENDS = {"1.1": "A", "2.1": "B", "3.1": "B", "4.1": "C"}
SCORES = {"1.1": 0.9, "2.1": 0.2, "3.1": 0.3, "4.1": 0.95}


def test_greedy_asks_for_one_whole_solution_at_temperature_zero():
    policy = ScriptedPolicy(Script(answers=ENDS))
    tree, decision = run_scripted(policy.script, "greedy", policy=policy)
    assert [(r.n, r.until, r.temperature) for r in policy.requests] == [(1, "end", 0.0)]
    assert children_labels(tree, "") == ["1"] and tree.nodes[1].text == "1\n1.1 answer=A\n"
    assert decision.answer == "A" and len(decision.candidates) == 1


def test_best_of_n_samples_n_whole_solutions_and_votes():
    script = Script(scores=SCORES, answers=ENDS)
    policy = ScriptedPolicy(script)
    _, decision = run_scripted(script, "best_of_n", policy=policy, n=4, selector="majority")
    assert [(r.n, r.until) for r in policy.requests] == [(4, "end")]
    assert [c.answer for c in decision.candidates] == ["A", "B", "B", "C"]
    assert decision.answer == "B"  # two votes
    # weighted: A 0.9, B 0.2 + 0.3, C 0.95 -> C; best: C
    assert run_scripted(script, "best_of_n", n=4, selector="weighted")[1].answer == "C"
    _, chosen = run_scripted(Script(scores={**SCORES, "4.1": 0.5}, answers=ENDS), "best_of_n", n=4, selector="weighted")
    assert chosen.answer == "A"  # A 0.9 > B 0.5 = C 0.5


def test_adaptive_consistency_options_are_checked():
    for params in ({"batch": 0}, {"batch": 1.5}, {"agreement": 0.0}, {"agreement": 1.01}):
        key = next(iter(params))
        with pytest.raises(ValueError, match=rf"^strategy.{key} must "):
            strategy("adaptive", TASK, **params)
    assert strategy("adaptive", TASK, batch=1, agreement=1.0).batch == 1


def test_adaptive_consistency_stops_once_the_answers_agree():
    # rounds of 2: A, B (no agreement at 0.7) then B, B: 3 of 4 agree -> stop, B
    ends = {"1.1": "A", "2.1": "B", "3.1": "B", "4.1": "B", "5.1": "C", "6.1": "C"}
    policy = ScriptedPolicy(Script(answers=ends))
    _, decision = run_scripted(policy.script, "adaptive", policy=policy, n=6, batch=2, agreement=0.7)
    assert [r.n for r in policy.requests] == [2, 2]
    assert decision.answer == "B" and len(decision.candidates) == 4
