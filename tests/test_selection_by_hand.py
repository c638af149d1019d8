"""The selectors on candidates whose answers and scores are written by hand: where
majority, weighted voting and best-of must disagree, each picks its own answer."""

import random

import pytest

from infscale.search.node import Tree
from infscale.search.ops import Expand
from infscale.search.selection import aggregate, group_answers, select
from infscale.tasks.base import Problem, TextTask, equivalence_is_key

TASK = TextTask()


def candidates(rows: list[tuple[str | None, list[float]]]):
    tree = Tree(Problem(id="q", prompt="Q\n", reference="A"))
    nodes = []
    for answer, scores in rows:
        node = tree.add_child(tree.root, text="x\n", tokens=1, finish="end")
        node.answer, node.step_scores, node.terminal = answer, scores, True
        nodes.append(node)
    return nodes


# A: three votes, each weak (0.1); B: two votes, strong (0.9, 0.8); C: one, the best (0.95).
ROWS = [("A", [0.1]), ("B", [0.9]), ("A", [0.1]), ("C", [0.95]), ("B", [0.8]), ("A", [0.1])]


@pytest.mark.parametrize("selector, answer", [("majority", "A"), ("weighted", "B"), ("best", "C")])
def test_each_selector_picks_its_own_answer(selector, answer):
    # majority: A 3, B 2, C 1; weighted: A 0.3, B 1.7, C 0.95; best: C's 0.95
    assert select(candidates(ROWS), selector, "last", TASK).answer == answer


def test_weighted_sums_the_aggregated_trajectory_scores():
    # min aggregation: A's trajectories score 0.6 each (sum 1.2); B's 0.5 and 0.2 (sum 0.7);
    # last-step aggregation would give A 0.6 + 0.6 = 1.2 against B 0.9 + 0.9 = 1.8.
    rows = [("A", [0.9, 0.6]), ("B", [0.5, 0.9]), ("A", [0.6, 0.6]), ("B", [0.2, 0.9])]
    assert select(candidates(rows), "weighted", "min", TASK).answer == "A"
    assert select(candidates(rows), "weighted", "last", TASK).answer == "B"
    assert aggregate([0.9, 0.6], "prod") == pytest.approx(0.54)
    assert aggregate([0.9, 0.6], "mean") == pytest.approx(0.75)


def test_ties_go_to_the_group_that_came_first():
    rows = [("B", [0.5]), ("A", [0.5]), ("A", [0.5]), ("B", [0.5])]
    assert select(candidates(rows), "majority", "last", TASK).answer == "B"
    assert select(candidates(rows), "weighted", "last", TASK).answer == "B"
    chosen = select(candidates(rows), "best", "last", TASK)
    assert chosen.answer == "B" and chosen.id == 1


def test_a_score_based_selector_needs_scored_candidates():
    rows = [("A", [0.5]), ("B", [0.5])]
    nodes = candidates(rows)
    nodes[1].step_scores = None
    message = r"^a score-based selector needs scored candidates: the strategy did not score them$"
    for selector in ("weighted", "best"):
        with pytest.raises(ValueError, match=message):
            select(nodes, selector, "last", TASK)
    assert select(nodes, "majority", "last", TASK).answer == "A"  # majority reads no score


def test_equivalent_answers_merge_into_one_group_with_all_their_members():
    class Mod10(TextTask):  # answers equal modulo 10: keys differ, the grader merges them
        def equivalent(self, a: str, b: str) -> bool:
            return int(a) % 10 == int(b) % 10

    rows = [("3", [0.1]), ("7", [0.9]), ("13", [0.1]), ("23", [0.1]), ("17", [0.1])]
    assert group_answers([a for a, _ in rows], Mod10()) == [[0, 2, 3], [1, 4]]
    assert select(candidates(rows), "majority", "last", Mod10()).answer == "3"
    assert select(candidates(rows), "weighted", "last", Mod10()).answer == "7"  # 1.0 against 0.3


def test_aggregation_of_no_steps_and_of_an_unknown_rule():
    assert [aggregate([], how) for how in ("min", "last", "prod", "mean")] == [0.0] * 4
    assert aggregate(None, "min") is None
    with pytest.raises(ValueError, match=r"^unknown aggregation 'median' \(known: min, last, prod, mean\)$"):
        aggregate([0.5], "median")


def test_an_unknown_selector_and_a_width_list_of_the_wrong_length_are_named():
    with pytest.raises(ValueError, match=r"^unknown selector 'vote' \(known: majority, weighted, best\)$"):
        select(candidates(ROWS), "vote", "last", TASK)
    nodes = candidates(ROWS[:2])
    with pytest.raises(ValueError, match=r"^Expand got 1 widths for 2 nodes$"):
        Expand(nodes, n=[1]).widths()
    assert Expand(nodes, n=3).widths() == [3, 3]


def test_grouping_by_key_alone_gives_the_groups_of_the_pairwise_scan():
    """Where the task's equivalence is its key's equality, answers are grouped by key without
    the pairwise scan: the same groups, in the same order, as the scan gives."""

    class Keyed(TextTask):
        pass

    class Scanned(TextTask):
        def equivalent(self, a: str, b: str) -> bool:  # the same relation, not recognised as key equality
            return self.answer_key(a) == self.answer_key(b)

    assert equivalence_is_key(Keyed()) and not equivalence_is_key(Scanned())
    rng = random.Random(7)
    for _ in range(200):
        answers = [rng.choice(["1", " 1", "2", "2 ", "3", "x", " x "]) for _ in range(rng.randint(0, 12))]
        assert group_answers(answers, Keyed()) == group_answers(answers, Scanned())
    assert group_answers(["2", "1", " 2", "1 ", "3"], Keyed()) == [[0, 2], [1, 3], [4]]
