"""The Lessons-recipe PRM's data (`experiments/training/lessons_prm_data.py`) on a hand-built
REBASE tree: the MC/checker consensus keeps exactly the agreeing mid-tree nodes, and
hard-negative mining picks exactly the shipped PRM's confident mistakes."""

from __future__ import annotations

import pytest

from infscale.experiments.training import ladder_ops as ops
from infscale.experiments.training.lessons_prm_data import (
    Example,
    hard_negatives,
    training_rows,
    tree_examples,
)
from infscale.search.node import Tree
from infscale.tasks.toy_sum import ToySumTask

TASK = ToySumTask(seed=0, level=2, n=1)  # '81 +17*5 -16 +49 +95', answer 94
REST = "17*5=85\n65+95=60\n60+49=9\n9+85=94\n"


def hand_tree() -> Tree:
    tree = Tree(TASK.problems()[0])

    def step(parent, text, score):
        return tree.add_child(parent, text=text, finish="step", step_scores=[*(parent.step_scores or []), score])

    def finish(parent, answer):
        tree.add_child(parent, text=f"answer: {answer}", finish="end", terminal=True, answer=answer, step_scores=[0.5])

    right = step(tree.root, "81-16=65\n", 0.9)  # right, and a descendant reaches 94: kept
    finish(step(right, REST, 0.9), "94")
    wrong = step(tree.root, "81-16=66\n", 0.8)  # wrong, every descendant wrong: kept
    finish(wrong, "95")
    finish(wrong, "93")
    unlucky = step(tree.root, "17*5=85\n", 0.3)  # right, but no descendant right: MC disagrees
    finish(unlucky, "93")
    step(tree.root, "81+49=30\n", 0.6)  # right, no finished descendant: no estimate
    lucky = step(tree.root, "81-16=64\n", 0.7)  # wrong, yet a descendant says 94: MC disagrees
    finish(lucky, "94")
    return tree


def test_tree_consensus_keeps_exactly_the_agreeing_mid_tree_nodes():
    kept, counts = tree_examples(hand_tree(), TASK)
    # scored mid-tree: the five first steps and the right node's continuation
    assert counts == {"scored": 6, "estimated": 5, "kept": 3}
    by_path = {"".join(e.steps): e for e in kept}
    assert set(by_path) == {"81-16=65\n", "81-16=65\n" + REST, "81-16=66\n"}
    wrong = by_path["81-16=66\n"]
    assert wrong.labels == (False,) and wrong.mc == 0.0 and wrong.score == pytest.approx(0.8)
    assert by_path["81-16=65\n"].labels == (True,) and by_path["81-16=65\n"].mc == 1.0


def example(labels: tuple[bool, ...], score: float) -> Example:
    steps = ("81-16=65", "17*5=85", "65+95=61")[: len(labels)]
    return Example("pool", "p", "81 +17*5 -16 +49 +95\n", steps, labels, score, 0.0)


def test_hard_negatives_are_the_confident_mistakes():
    confident_wrong = example((True, True, False), 0.7)
    doubtful_wrong = example((True, False), 0.2)
    confident_right = example((True, True), 0.95)
    pool = [confident_wrong, doubtful_wrong, confident_right]
    assert hard_negatives(pool, 0.5) == [confident_wrong]
    assert hard_negatives(pool, 0.1) == [confident_wrong, doubtful_wrong]
    assert hard_negatives(pool, 0.8) == []
    with pytest.raises(ValueError, match="confident"):
        hard_negatives(pool, 1.5)


def test_training_rows_label_every_step_wrong_from_the_first_error_on():
    rows = training_rows([example((True, False, False), 0.7)], repeat=3)
    assert len(rows) == 3
    ids, labels = rows[0]
    _, tags = ops.encode_prm("81 +17*5 -16 +49 +95\n", ("81-16=65", "17*5=85", "65+95=61"))
    assert [labels[t] for t in tags] == [1, 0, 0]
    assert sum(y != ops.IGNORE_INDEX for y in labels) == 3
