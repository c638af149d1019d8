"""Option checks, tree bookkeeping and the `sample` draw, pinned where mutation testing found them loose.

Collected through tests/test_strategy_rebase_mcts.py (the mutation selection lists that file).
"""

import random

import pytest

from infscale.search.node import Tree, load_tree
from infscale.search.selection import select
from infscale.search.strategies.beam import check_beam_width
from infscale.search.strategies.mcts import simulate_choice
from infscale.tasks.base import Problem
from tests.engine_helpers import strategy
from tests.scripted_world import TASK


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
