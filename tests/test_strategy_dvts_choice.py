"""DVTS continues every subtree from its best child (first on ties), in a hand-scripted
world (tests/scripted_world.py). search-and-learn's `_dvts` and docs/design.md agree on this
choice whatever they return, so the test holds across the issue 12 rewrite."""

import pytest

from tests.scripted_world import Script, children_labels, run_scripted

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
