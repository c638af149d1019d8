"""REBASE and MCTS in hand-scripted worlds (tests/scripted_world.py): every PRM score, end
and answer is written in the test, and the right expansions and decision are worked out
by hand from docs/design.md ("Strategies (exact semantics)").

The REBASE tie order and MCTS simulation tests hold the design's semantics (issue 12 made the code follow them).
"""

import bisect
import collections
import itertools
import random

import pytest

from infscale.search.strategies.mcts import simulate_choice
from tests.cases_strategy_checks import *  # noqa: F401,F403  (collected here: the mutation selection lists this file)
from tests.engine_helpers import strategy
from tests.scripted_world import TASK, Script, by_label, children_labels, run_scripted

# --- REBASE -------------------------------------------------------------------------


def test_rebase_expands_best_first_with_the_sequential_ceil_widths():
    # Depth 1 scores: 1 -> 0.2, 2 -> 0.9, 3 -> 0.5, 4 -> 0.7; every depth-2 step ends.
    # Sorted best first: 2, 4, 3, 1; T = 1, W = 4, weights e^0.9, e^0.7, e^0.5, e^0.2
    # (2.4596, 2.0138, 1.6487, 1.2214; sum 7.3435):
    #   node 2: ceil(4 * 2.4596 / 7.3435) = ceil(1.3397) = 2   W_left 2, S_left 4.8839
    #   node 4: ceil(2 * 2.0138 / 4.8839) = ceil(0.8247) = 1   W_left 1, S_left 2.8701
    #   node 3: ceil(1 * 1.6487 / 2.8701) = ceil(0.5744) = 1   W_left 0
    #   node 1: 0
    # and the children are created in that order (ids follow the Expand's node order).
    ends = {f"{a}.{b}": "A" for a in range(1, 5) for b in range(1, 5)}
    script = Script(scores={"1": 0.2, "2": 0.9, "3": 0.5, "4": 0.7}, answers=ends)
    tree, decision = run_scripted(script, "rebase", n=4, balance_temperature=1.0)
    assert children_labels(tree, "") == ["1", "2", "3", "4"]
    assert [n.text.split()[0] for n in tree.nodes[5:]] == ["2.1", "2.2", "4.1", "3.1"]
    assert [len(children_labels(tree, x)) for x in ("1", "2", "3", "4")] == [0, 2, 1, 1]
    assert len(decision.candidates) == 4 and decision.answer == "A"


def _shrinking_world() -> Script:
    # Depth 1: 1 (0.9) and 2 (0.8) end with answers A and B; 3 (0.6) and 4 (0.3) go on.
    # The width left is 4 - 2 = 2, split over 3 and 4 with T = 1:
    #   node 3: ceil(2 * e^0.6 / (e^0.6 + e^0.3)) = ceil(1.1489) = 2, node 4: 0.
    # Depth 2: 3.1 ends with B (0.3), 3.2 with A (0.1). Four finished: the width is spent.
    return Script(
        scores={"1": 0.9, "2": 0.8, "3": 0.6, "4": 0.3, "3.1": 0.3, "3.2": 0.1},
        answers={"1": "A", "2": "B", "3.1": "B", "3.2": "A", **{f"{a}.{b}": "C" for a in (3, 4) for b in (3, 4)}},
    )


def test_rebase_finished_nodes_shrink_the_width_and_weighted_voting_decides():
    tree, decision = run_scripted(_shrinking_world(), "rebase", n=4, balance_temperature=1.0, selector="weighted")
    assert len(tree.nodes) == 1 + 4 + 2  # not 1 + 4 + 4: two finished steps took their share
    assert children_labels(tree, "3") == ["3.1", "3.2"] and children_labels(tree, "4") == []
    assert [c.text.split()[0] for c in decision.candidates] == ["1", "2", "3.1", "3.2"]
    # weighted: A = 0.9 + 0.1 = 1.0, B = 0.8 + 0.3 = 1.1 -> B
    assert decision.answer == "B"


def test_rebase_majority_tie_goes_to_the_group_that_came_first():
    # the same candidates, two votes each: A's first member (node 1) came first
    _, decision = run_scripted(_shrinking_world(), "rebase", n=4, balance_temperature=1.0, selector="majority")
    assert decision.answer == "A"


def test_rebase_spends_the_last_unit_of_width():
    # n = 2: step 1 ends (A), step 2 goes on with the one unit of width left; 2.1 ends (B)
    script = Script(scores={"1": 0.9, "2": 0.1}, answers={"1": "A", "2.1": "B", "2.2": "B"})
    tree, decision = run_scripted(script, "rebase", n=2, balance_temperature=1.0)
    assert children_labels(tree, "2") == ["2.1"]
    assert [c.text.split()[0] for c in decision.candidates] == ["1", "2.1"]


def test_rebase_temperature_must_be_positive():
    with pytest.raises(ValueError, match=r"^strategy.balance_temperature must be > 0, got 0.0$"):
        strategy("rebase", TASK, balance_temperature=0.0)


def test_rebase_tied_scores_put_the_later_node_first():
    # Depth 1: 1 and 2 tie at 0.5, 3 and 4 at 0.1. Sorted widths (T = 1, W = 4):
    #   ceil(4 * e^.5 / (2e^.5 + 2e^.1)) = ceil(1.1974) = 2, ceil(2 * e^.5 / (e^.5 + 2e^.1)) = ceil(0.8545) = 1,
    #   ceil(1 * e^.1 / 2e^.1) = ceil(0.5) = 1, 0.
    # The reference sorts stably and reverses: 2 before 1, 4 before 3.
    ends = {f"{a}.{b}": "A" for a in range(1, 5) for b in range(1, 5)}
    script = Script(scores={"1": 0.5, "2": 0.5, "3": 0.1, "4": 0.1}, answers=ends)
    tree, _ = run_scripted(script, "rebase", n=4, balance_temperature=1.0)
    assert [len(children_labels(tree, x)) for x in ("1", "2", "3", "4")] == [1, 2, 0, 1]
    assert [n.text.split()[0] for n in tree.nodes[5:]] == ["2.1", "2.2", "1.1", "4.1"]


# --- MCTS ---------------------------------------------------------------------------


def _subtree_world(values: dict[str, float], answers: dict[str, str], depth: int = 3, width: int = 8) -> Script:
    """Every step under root child k scores values[k] and, at `depth`, ends with answers[k]."""
    scores, ends = {}, {}
    labels = [str(k) for k in range(1, width + 1)]
    for level in range(1, depth + 1):
        for label in labels:
            scores[label] = values.get(label.split(".")[0], 0.1)
            if level == depth:
                ends[label] = answers.get(label.split(".")[0], "Z")
        labels = [f"{label}.{k}" for label in labels for k in range(1, width + 1)]
    return Script(scores=scores, answers=ends)


def _descendants(tree, label: str) -> int:
    return sum(1 for other in by_label(tree) if other.startswith(label + "."))


@pytest.mark.parametrize("good", ["1", "2"])
def test_mcts_uct_spends_its_iterations_under_the_higher_valued_child(good):
    # Every step under the good root child scores 0.9, under the other (and any further
    # root child) 0.2 or less. With the visit counts equal, UCT's exploration terms are
    # equal and the higher Q wins, so most of the search happens under the good child.
    bad = "2" if good == "1" else "1"
    script = _subtree_world({good: 0.9, bad: 0.2}, {good: "X", bad: "Y"})
    tree, decision = run_scripted(script, "mcts", n=6)
    others = [_descendants(tree, str(k)) for k in range(1, 9) if str(k) != good]
    assert _descendants(tree, good) > max(others)
    assert decision.answer == "X"


def test_mcts_backs_the_path_value_up_and_turns_to_the_better_subtree():
    # Root children 1 and 2 look alike (0.5 each); under 1 every step scores 0.05 and
    # ends with X at depth 2, under 2 every step scores 0.95 and ends with Y. Only the
    # values backed up from below tell them apart: the search must end up under 2.
    script = _subtree_world({"1": 0.5, "2": 0.5}, {"1": "X", "2": "Y"}, depth=2)
    for label in list(script.scores):
        if label.count(".") == 1:
            script.scores[label] = 0.05 if label.startswith("1.") else 0.95 if label.startswith("2.") else 0.0
    tree, decision = run_scripted(script, "mcts", n=8)
    assert _descendants(tree, "2") >= 2
    assert decision.answer == "Y"


def test_mcts_every_iteration_reaches_a_terminal():
    # Chains end at depth 3 only; one iteration must still simulate down to an answer.
    script = _subtree_world({"1": 0.9, "2": 0.2}, {"1": "X", "2": "Y"})
    _, decision = run_scripted(script, "mcts", n=1)
    assert decision.answer == "X"


# --- MCTS's simulation choice ---------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_simulate_sample_draws_by_the_inverse_of_the_cumulative_rewards(seed):
    # `sample` takes child k with probability reward_k / total: the k whose cumulative
    # interval [R_{k-1}, R_k) holds u * total, u the generator's next draw
    rewards = [0.1, 0.0, 0.3, 0.6]
    rng, twin = random.Random(seed), random.Random(seed)
    for _ in range(200):
        point = twin.random() * sum(rewards)
        expected = bisect.bisect_right(list(itertools.accumulate(rewards)), point)
        assert simulate_choice("sample", rewards, rng) == expected
    counts = collections.Counter(simulate_choice("sample", rewards, rng) for _ in range(4000))
    assert counts[1] == 0 and abs(counts[3] / 4000 - 0.6) < 0.03 and abs(counts[0] / 4000 - 0.1) < 0.02


def test_simulate_max_takes_the_first_best_and_random_ignores_the_rewards():
    rng = random.Random(0)
    assert simulate_choice("max", [0.2, 0.7, 0.7, 0.1], rng) == 1
    assert simulate_choice("max", [0.9], rng) == 0
    assert simulate_choice("max", [-0.5, -0.2, -0.2], rng) == 1
    rewards = [0.0, 0.0, 1.0]
    for how in ("random", "sample"):  # all-zero rewards sample uniformly too
        twin, rng = random.Random(3), random.Random(3)
        weights = rewards if how == "random" else [0.0, 0.0, 0.0]
        draws = [simulate_choice(how, weights, rng) for _ in range(300)]
        assert draws == [twin.randrange(3) for _ in range(300)]
        assert set(draws) == {0, 1, 2}


# --- MCTS's outputs, traced by hand -----------------------------------------------------
#
# Root children 1 (fast reward 0.6) and 2 (0.5); under 1 two weak ends, 1.1 (0.05, A) and
# 1.2 (0.04, B); under 2 two strong ones, 2.1 (0.9, C) and 2.2 (0.8, D). c = 1, two children
# per expansion, simulation by max reward. The iterations, with UCT = Q + sqrt(ln N / n):
#  1. expand the root; simulate into 1 (0.6 > 0.5), expand it, into 1.1: returns 0.65 up the path
#  2. N_root = 1, ln 1 = 0: Q decides, 1 (0.65) over 2 (0.5); under 1, 1.1 (0.05) over 1.2 (0.04): 1.1 again
#  3. 1: 0.65 + sqrt(ln 2 / 2) = 1.24, 2: 0.5 + sqrt(ln 2) = 1.33: expand 2, simulate into 2.1 (return 1.4)
#  4. 1: 0.65 + sqrt(ln 3 / 2) = 1.39, 2: 1.4 + sqrt(ln 3) = 2.45; under 2 (ln 1 = 0) 2.1 (0.9) again
#  5. 2 again (2.23 > 1.48); under 2: 2.1 0.9 + sqrt(ln 2 / 2) = 1.49, 2.2 0.8 + sqrt(ln 2) = 1.63: 2.2 (return 1.3)
#  6. 2 (2.10 > 1.55); 2.1 0.9 + sqrt(ln 3 / 2) = 1.64, 2.2 0.8 + sqrt(ln 3) = 1.85: 2.2 again
#  7. 2 (2.02 > 1.60); 2.1 0.9 + sqrt(ln 4 / 2) = 1.73, 2.2 0.8 + sqrt(ln 4 / 2) = 1.63: 2.1
# After 5 iterations the ended nodes are 1.1 (2 returns), 2.1 (2), 2.2 (1); after 7, 1.1 (2),
# 2.1 (3), 2.2 (2). Path sums: 1.1 0.65, 2.1 1.4, 2.2 1.3.
_MCTS_WORLD = Script(
    scores={"1": 0.6, "2": 0.5, "1.1": 0.05, "1.2": 0.04, "2.1": 0.9, "2.2": 0.8},
    answers={"1.1": "A", "1.2": "B", "2.1": "C", "2.2": "D"},
)


@pytest.mark.parametrize(
    "n, output, selector, answer",
    [
        (5, "max_reward", "weighted", "C"),  # the largest path sum
        (5, "follow_max", "weighted", "A"),  # greedy by fast reward from the root: 1, then 1.1
        (5, "max_visit", "weighted", "A"),  # 1.1 and 2.1 both have 2 returns: the first ended one
        (7, "max_visit", "weighted", "C"),  # 2.1 has 3
        (5, "last_terminal_iter", "weighted", "D"),  # iteration 5 ended at 2.2
        (7, "last_terminal_iter", "weighted", "C"),
        (5, "vote", "weighted", "C"),  # A 0.05, C 0.9, D 0.8
        (5, "vote", "majority", "A"),  # three groups of one: the first
    ],
)
def test_mcts_outputs_pick_their_own_answer_in_a_world_traced_by_hand(n, output, selector, answer):
    tree, decision = run_scripted(_MCTS_WORLD, "mcts", n=n, output=output, selector=selector, c=1.0, children=2)
    assert children_labels(tree, "") == ["1", "2"]
    assert children_labels(tree, "1") == ["1.1", "1.2"] and children_labels(tree, "2") == ["2.1", "2.2"]
    assert [c.answer for c in decision.candidates] == ["A", "C", "D"]  # the ended nodes visited, in creation order
    assert decision.answer == answer
    assert decision.chosen is not None and decision.chosen.answer == answer


def test_mcts_step_limit_is_not_an_end_and_a_dead_end_path_is_never_the_answer():
    # max_depth = 2. Under 1 (0.3) nothing ends: 1.1 and 1.2 (0.3 each) stop at the step
    # limit; under 2 (0.2), 2.1 (0.2) ends with X. Iterations 1-3 stay under 1 (1.1 twice, then
    # 1.2: 0.3 + sqrt(ln 2) beats 1.1's 0.3 + sqrt(ln 2 / 2), and is not expanded: it is at the
    # limit); in iteration 4, 2 (0.2 + sqrt(ln 3) = 1.25) beats 1 (0.6 + sqrt(ln 3 / 3) = 1.21)
    # and the simulation ends at 2.1. Path sums: 1.1 0.6 but not an end, 2.1 0.4.
    world = Script(
        scores={"1": 0.3, "1.1": 0.3, "1.2": 0.3, "2": 0.2, "2.1": 0.2, "2.2": 0.1},
        answers={"2.1": "X", "2.2": "Y"},
    )
    tree, decision = run_scripted(world, "mcts", n=4, max_depth=2, c=1.0, children=2, output="max_reward")
    nodes = by_label(tree)
    assert nodes["1.1"].finish == "depth" and nodes["1.1"].terminal and not nodes["1.1"].children
    assert children_labels(tree, "2") == ["2.1", "2.2"]
    assert [c.answer for c in decision.candidates] == ["X"]
    assert decision.answer == "X" and decision.chosen is nodes["2.1"]
    _, three = run_scripted(world, "mcts", n=3, max_depth=2, c=1.0, children=2, output="max_reward")
    assert three.candidates == [] and three.answer is None and three.chosen is None  # only dead ends so far
    _, greedy = run_scripted(world, "mcts", n=4, max_depth=2, c=1.0, children=2, output="follow_max")
    assert greedy.answer is None and greedy.chosen.text == "1.1\n"  # greedy by reward walks into the limit


@pytest.mark.parametrize("simulate", ["sample", "random"])
def test_mcts_random_simulations_are_seeded_by_the_problem(simulate):
    world = _subtree_world({"1": 0.5, "2": 0.5, "3": 0.5}, {"1": "X", "2": "Y", "3": "Z"})
    runs = [run_scripted(world, "mcts", n=6, children=3, simulate=simulate) for _ in range(2)]
    labels = [sorted(by_label(tree)) for tree, _ in runs]
    assert labels[0] == labels[1] and runs[0][1].answer == runs[1][1].answer
