"""Option checks, tree bookkeeping and the `sample` draw, pinned where mutation testing found them loose.

Collected through tests/test_strategy_rebase_mcts.py (the mutation selection lists that file).
"""

import random

import pytest

from infscale.search.node import Tree, load_tree
from infscale.search.selection import select
from infscale.search.strategies.beam import check_beam_width
from infscale.search.strategies.mcts import simulate_choice
from infscale.search.strategies.rebase import balance
from infscale.tasks.base import Problem
from tests.engine_helpers import strategy
from tests.scripted_world import TASK, Script, by_label, run_scripted


def test_mcts_children_must_be_a_positive_integer_and_one_is_enough():
    for bad in (0, -2, True, 1.5):
        with pytest.raises(ValueError, match=r"strategy\.children must be a positive integer"):
            strategy("mcts", TASK, children=bad)
    assert strategy("mcts", TASK, children=1).children == 1


def test_mcts_c_may_be_zero_or_a_fraction_but_not_negative():
    assert strategy("mcts", TASK, c=0).c == 0 and strategy("mcts", TASK, c=0.5).c == 0.5
    with pytest.raises(ValueError, match=r"strategy\.c must be a number >= 0"):
        strategy("mcts", TASK, c=-0.1)


@pytest.mark.parametrize("key", ["n", "max_depth"])
def test_every_strategy_needs_positive_integer_n_and_max_depth(key):
    for bad in (0, True):
        with pytest.raises(ValueError, match=rf"strategy\.{key} must be a positive integer, got {bad!r}"):
            strategy("best_of_n", TASK, **{key: bad})


def test_beam_width_error_names_the_key_and_value():
    with pytest.raises(ValueError, match=r"strategy\.beam_width must be a positive integer, got 0"):
        check_beam_width(4, 0)


def test_select_rejects_an_unknown_unanswered_mode_listing_the_known_ones():
    with pytest.raises(ValueError, match=r"^unknown strategy\.unanswered 'skip' \(known: vote, drop\)$"):
        select([], "majority", "last", TASK, unanswered="skip")


def test_sample_scales_the_draw_by_the_total_reward():
    # rewards sum to 2: u = 0.3 -> point 0.6 < 1.0 -> child 0; u = 0.7 -> point 1.4 -> child 1
    # (dividing by the total instead would give 0.15 and 0.35, both child 0)
    class Fixed(random.Random):
        def __init__(self, u: float):
            super().__init__(0)
            self.u = u

        def random(self) -> float:
            return self.u

    assert simulate_choice("sample", [1.0, 1.0], Fixed(0.3)) == 0
    assert simulate_choice("sample", [1.0, 1.0], Fixed(0.7)) == 1
    # a zero-reward child is never drawn, even at u = 0: point 0.0 < running 0.0 is false -> child 1
    assert simulate_choice("sample", [0.0, 1.0], Fixed(0.0)) == 1


def test_a_tree_starts_from_a_root_with_seed_zero_and_saves_terminal_and_finish(tmp_path):
    tree = Tree(Problem(id="p", prompt="Q", reference="1"))
    assert tree.seed == 0 and tree.root.finish == "root" and tree.root.tokens == 0
    tree.add_child(tree.root, text="s\n", tokens=2, context=1, finish="stop", terminal=True, answer="1")
    graph = load_tree(tree.save(tmp_path))
    assert graph.nodes[0]["finish"] == "root" and graph.nodes[0]["terminal"] is False
    assert graph.nodes[1]["finish"] == "stop" and graph.nodes[1]["terminal"] is True


# The step-limit world of test_mcts_step_limit_is_not_an_end_and_a_dead_end_path_is_never_the_answer:
# in 3 iterations nothing ends (1.1 and 1.2 stop at max_depth = 2), so no output has an ended node.
_LIMIT_WORLD = Script(
    scores={"1": 0.3, "1.1": 0.3, "1.2": 0.3, "2": 0.2, "2.1": 0.2, "2.2": 0.1},
    answers={"2.1": "X", "2.2": "Y"},
)


@pytest.mark.parametrize("output", ["max_visit", "last_terminal_iter"])
def test_mcts_outputs_with_no_ended_node_answer_none(output):
    tree, decision = run_scripted(_LIMIT_WORLD, "mcts", n=3, max_depth=2, c=1.0, children=2, output=output)
    assert by_label(tree)["1.1"].finish == "depth" and decision.candidates == [] and decision.answer is None
    assert decision.chosen is None


def test_mcts_max_reward_counts_the_first_step_in_the_path_sum():
    # c = 5, two children, max simulation. 1. expand the root, into 1 (0.9 > 0.1), into 1.1
    # (0.1 > 0.05): ends A. 2. N = 1, ln 1 = 0: 1 (Q 1.0) over 2 (0.1); 1.1 has ended. 3. N = 2:
    # 1: 1.0 + 5 sqrt(ln 2 / 2) = 3.94, 2: 0.1 + 5 sqrt(ln 2) = 4.26: expand 2, into 2.1: ends C.
    # Path sums from the first step: A 0.9 + 0.1 = 1.0 beats C 0.1 + 0.5 = 0.6 (without the first
    # step C's 0.5 would beat A's 0.1).
    world = Script(
        scores={"1": 0.9, "2": 0.1, "1.1": 0.1, "1.2": 0.05, "2.1": 0.5, "2.2": 0.4},
        answers={"1.1": "A", "1.2": "B", "2.1": "C", "2.2": "D"},
    )
    _, decision = run_scripted(world, "mcts", n=3, c=5.0, children=2, output="max_reward")
    assert [c.answer for c in decision.candidates] == ["A", "C"] and decision.answer == "A"


def test_balance_gives_nothing_once_the_width_is_spent_even_to_underflowed_weights():
    # T = 0.1: exp(-1000 / 0.1) underflows to 0.0, so after the top node (weight 1, all the weight)
    # takes ceil(4 * 1 / 1) = 4, the rest have weight 0 and width 0 left: they get 0 (no 0 / 0)
    assert balance([0.0, -1000.0, -1000.0], 4, 0.1) == [4, 0, 0]


def test_rebase_softmax_with_truncate_expands_only_the_best_share():
    # four unfinished depth-1 nodes, ratio 0.5: only the ceil(0.5 * 4) = 2 best (4 and 3) are expanded;
    # T = 10: weights exp(-0.01 k). Untruncated: 4 / 3.941 -> 2, 2 * 0.990 / 2.941 -> 1, 0.980 / 1.950 -> 1,
    # then 0 (node 2 would grow one child). Truncated to 4 and 3: ceil(4 / 1.990) = 3, then 1.
    world = Script(scores={"1": 0.1, "2": 0.2, "3": 0.3, "4": 0.4}, answers={})
    tree, _ = run_scripted(
        world,
        "rebase",
        n=4,
        max_depth=2,
        select_method="softmax_with_truncate",
        truncate_ratio=0.5,
        balance_temperature=10.0,
    )
    grown = {label: len(node.children) for label, node in by_label(tree).items() if label in ("1", "2", "3", "4")}
    assert grown == {"1": 0, "2": 0, "3": 1, "4": 3}
