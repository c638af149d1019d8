"""Beam search ranks its unfinished copies by `aggregation` of their step scores (default
`last`, as search-and-learn); the parity tests use `last` only, so here the others change
which beams survive on a hand-scripted world.

N = 4, M = 2 (two survivors), three iterations:
  root -> 1 (.4), 2 (.9), 3 (.1), 4 (.1): survivors 1 and 2 under every aggregation
  1 -> 1.1, 1.2 (.95 each): last .95, min .4, mean .675, prod .38
  2 -> 2.1, 2.2 (.8 each):  last .8,  min .8, mean .85,  prod .72
  last keeps 1.1 and 1.2 (answers A); min, mean and prod keep 2.1 and 2.2 (answers B).
"""

from __future__ import annotations

import pytest

from tests.scripted_world import Script, children_labels, label_of, run_scripted

SCRIPT = Script(
    scores={"1": 0.4, "2": 0.9, "3": 0.1, "4": 0.1, "1.1": 0.95, "1.2": 0.95, "2.1": 0.8, "2.2": 0.8},
    answers={f"{a}.{b}.{c}": ("A" if a == 1 else "B") for a in (1, 2) for b in (1, 2) for c in (1, 2)},
)


@pytest.mark.parametrize(
    "aggregation,survivors,answer",
    [
        ("last", ["1.1", "1.2"], "A"),
        ("min", ["2.1", "2.2"], "B"),
        ("mean", ["2.1", "2.2"], "B"),
        ("prod", ["2.1", "2.2"], "B"),
    ],
)
def test_beam_survivors_follow_the_aggregation(aggregation, survivors, answer):
    tree, decision = run_scripted(SCRIPT, "beam", n=4, beam_width=2, max_depth=3, aggregation=aggregation)
    assert children_labels(tree, "") == ["1", "2", "3", "4"]
    assert children_labels(tree, "1") == ["1.1", "1.2"] and children_labels(tree, "2") == ["2.1", "2.2"]
    expanded_last = [x for x in ("1.1", "1.2", "2.1", "2.2") if children_labels(tree, x)]
    assert expanded_last == survivors
    assert sorted(label_of(c.text) for c in decision.candidates) == [f"{s}.{k}" for s in survivors for k in (1, 2)]
    assert decision.answer == answer


def test_the_default_aggregation_is_last():
    tree, decision = run_scripted(SCRIPT, "beam", n=4, beam_width=2, max_depth=3)
    assert [x for x in ("1.1", "1.2", "2.1", "2.2") if children_labels(tree, x)] == ["1.1", "1.2"]
    assert decision.answer == "A"
