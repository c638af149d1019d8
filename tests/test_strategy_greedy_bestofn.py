"""Greedy and best-of-N in the hand-scripted world: what they ask the policy for, and what
they decide (tests/scripted_world.py)."""

from tests.scripted_world import Script, ScriptedPolicy, children_labels, run_scripted

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
