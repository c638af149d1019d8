"""DVTS continues every subtree from its best child (first on ties), in a hand-scripted
world (tests/scripted_world.py). search-and-learn's `_dvts` and docs/design.md agree on this
choice whatever they return, so the test holds across the issue 12 rewrite."""

import pytest

from tests.scripted_world import BlankFirstChild, Script, children_labels, run_scripted

ENDS = {f"{a}.{b}": "A" for a in range(1, 5) for b in range(1, 5)}


@pytest.mark.parametrize(
    "scores, expanded",
    [
        # subtree 0 owns root children 1, 2; subtree 1 owns 3, 4 (n = 4, beam_width = 2)
        ({"1": 0.3, "2": 0.8, "3": 0.9, "4": 0.1}, {"2", "3"}),
        ({"1": 0.7, "2": 0.2, "3": 0.4, "4": 0.6}, {"1", "4"}),
        ({"1": 0.5, "2": 0.5, "3": 0.2, "4": 0.2}, {"1", "3"}),  # ties: the first child
    ],
)
def test_dvts_expands_each_subtrees_best_child_into_m_children(scores, expanded):
    tree, decision = run_scripted(Script(scores=scores, answers=ENDS), "dvts", n=4, beam_width=2)
    assert children_labels(tree, "") == ["1", "2", "3", "4"]
    for label in ("1", "2", "3", "4"):
        assert children_labels(tree, label) == ([f"{label}.1", f"{label}.2"] if label in expanded else [])
    assert decision.answer == "A" and len(decision.candidates) == 4  # both subtrees' two children


def test_dvts_with_one_subtree_expands_the_root_n_wide():
    tree, _ = run_scripted(Script(scores={"1": 0.4, "2": 0.6}, answers=ENDS), "dvts", n=2, beam_width=2)
    assert children_labels(tree, "") == ["1", "2"]
    assert children_labels(tree, "2") == ["2.1", "2.2"] and children_labels(tree, "1") == []


def test_dvts_stops_a_subtree_whose_best_child_is_a_blank_step():
    # subtree 0 draws a blank step and "2", both scoring 0 (a blank step scores 0): the blank,
    # first, is its best, and ends the subtree; subtree 1 (3: 0.5, 4: 0.4) goes on from 3
    script = Script(scores={"2": 0.0, "3": 0.5, "4": 0.4}, answers={"3.1": "X", "3.2": "Y"})
    policy = BlankFirstChild(script)
    tree, decision = run_scripted(script, "dvts", policy=policy, n=4, beam_width=2)
    blank = tree.root.children[0]
    assert blank.text == "" and blank.children == []
    assert children_labels(tree, "2") == [] and children_labels(tree, "3") == ["3.1", "3.2"]
    assert [c.answer for c in decision.candidates] == [None, None, "X", "Y"]


def test_dvts_samples_to_the_end_when_the_first_expansion_is_the_last():
    script = Script(scores={"1.1": 0.9}, answers={"1.1": "X", "2.1": "Y"})
    tree, decision = run_scripted(script, "dvts", n=2, beam_width=2, max_depth=1)
    assert [c.answer for c in tree.root.children] == ["X", "Y"] and all(c.terminal for c in tree.root.children)
    assert decision.answer == "X"
