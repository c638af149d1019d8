"""Parity: infscale's `mcts` against llm-reasoners' `MCTS`.

`ref_mcts` re-writes the control flow of maitrix-org/llm-reasoners,
reasoners/algorithm/mcts.py, `MCTS` (`iterate`, `_select`, `_uct`, `_expand`, `_simulate`,
`_back_propagate`, `_dfs_max_reward`, the `follow_max` / `last_terminal_iter` outputs;
defaults `cum_reward=sum`, `calc_q=np.mean`, `uct_with_fast_reward=True`) on a scripted
world (tests/parity_world.py) whose actions are sampled steps, fast reward and reward the
step's PRM score; the test drives infscale's strategy through the real Engine on the same
world. Deliberate differences, written into the port: no actions are generated below the
step limit (the reference's `_simulate` expands a node at `depth_limit` it will not
enter); `sample` / `random` draw from a seeded `random.Random` (the reference: numpy's
global generator, `sample` with the raw rewards as probabilities); `max_visit` (in the
reference's docstring, not in its code) is the ended node with the most returns; `vote`
is infscale's selector over every ended node visited.
"""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

from infscale.search.selection import aggregate
from infscale.tasks.base import derive_seed
from tests.engine_helpers import strategy
from tests.parity_world import (
    Draws,
    ScriptedTask,
    World,
    first_world_fast,
    generated_steps,
    sal_vote,
    scripted_outcomes,
)


class _Node:
    def __init__(self, text, parent, fast_reward, is_end=False, answer=None):
        self.text, self.parent, self.answer, self.is_end = text, parent, answer, is_end
        self.depth = 0 if parent is None else parent.depth + 1
        self.fast_reward = self.reward = fast_reward
        self.state, self.is_terminal, self.children, self.cum_rewards = None, False, None, []


def ref_choice(how, rewards, rng):
    """`default_simulate_strategies` ('max': np.argmax); 'sample' / 'random' from a seeded
    random.Random (see the module docstring), the reward's share of the total (uniform if 0)."""
    if how == "max":
        return int(np.argmax(rewards))
    if how == "random" or sum(rewards) <= 0:
        return rng.randrange(len(rewards))
    point = rng.random() * sum(rewards)
    cumulative = list(itertools.accumulate(rewards))
    return next((k for k, edge in enumerate(cumulative) if point < edge), len(rewards) - 1)


def ref_mcts(world, prompt, tree_seed, n_iters, n_actions, w_exp, depth_limit, simulate, output):
    draws, created = Draws(world), []
    rng = random.Random(derive_seed("mcts-simulate", tree_seed))
    root = _Node("", None, 0.0)
    root.state = "init"

    def terminal_wdl(node):
        return node.is_terminal or node.depth >= depth_limit

    def expand(node):
        if node.state is None:
            node.state, node.is_terminal = "visited", node.is_end
        if node.is_terminal or node.depth >= depth_limit:
            return
        node.children = []
        for _ in range(n_actions):
            step = draws.sample(prompt + node.text)
            text = node.text + step.text
            ended = step.finish != "step"
            child = _Node(text, node, world.score(prompt + text), ended, step.answer)
            node.children.append(child)
            created.append(child)

    def uct(node):
        q = np.mean(node.cum_rewards) if node.state is not None else node.fast_reward
        return q + w_exp * math.sqrt(math.log(len(node.parent.cum_rewards)) / max(1, len(node.cum_rewards)))

    last_terminal = None
    for _ in range(n_iters):
        path, node = [], root
        while True:  # _select
            path.append(node)
            if node.children is None or len(node.children) == 0 or terminal_wdl(node):
                break
            node = max(node.children, key=uct)
        if not terminal_wdl(path[-1]):
            expand(path[-1])
            node = path[-1]
            while True:  # _simulate
                if node.state is None:
                    expand(node)
                if terminal_wdl(node) or len(node.children) == 0:
                    break
                node = node.children[ref_choice(simulate, [c.fast_reward for c in node.children], rng)]
                path.append(node)
        rewards = []
        for node in reversed(path):  # _back_propagate
            rewards.append(node.reward)
            node.cum_rewards.append(sum(rewards[::-1]))
        if path[-1].is_terminal:
            last_terminal = path

    def dfs(path):
        cur = path[-1]
        if cur.is_terminal:
            return sum(x.reward for x in path[1:]), path
        if cur.children is None:
            return -math.inf, path
        seen = [x for x in cur.children if x.state is not None]
        if not seen:
            return -math.inf, path
        return max((dfs(path + [x]) for x in seen), key=lambda t: t[0])

    ended = [x for x in created if x.state is not None and x.is_terminal]
    chosen = None
    if output == "max_reward":
        best, path = dfs([root])
        chosen = path[-1] if best > -math.inf else None
    elif output == "follow_max":
        chosen = root
        while not chosen.is_terminal:
            seen = [x for x in chosen.children or [] if x.state is not None]
            if not seen:
                break
            chosen = max(seen, key=lambda x: x.reward)
    elif output == "max_visit":
        chosen = max(ended, key=lambda x: len(x.cum_rewards), default=None)
    elif output == "last_terminal_iter" and last_terminal is not None:
        chosen = last_terminal[-1]
    return draws.generated, ended, chosen


def run_both(seed, ties, n, children, depth, simulate="max", output="max_reward", c=1.0):
    world = World(seed, ties=ties, alphabet=50, cap=depth + 2)
    task = ScriptedTask(n=2)
    mcts = strategy(
        "mcts", task, n=n, children=children, c=c, max_depth=depth, simulate=simulate, output=output, unanswered="vote"
    )
    for outcome in scripted_outcomes(world, task, mcts):
        prompt = outcome.problem.prompt
        steps, ended, chosen = ref_mcts(world, prompt, outcome.tree.seed, n, children, c, depth, simulate, output)
        assert generated_steps(outcome.tree) == steps
        assert [x.solution for x in outcome.decision.candidates] == [x.text for x in ended]
        if output == "vote":
            scores = [aggregate(world.scores(prompt, x.text), "last") for x in ended]
            expected = sal_vote([x.answer for x in ended], scores, "weighted") if ended else None
        else:
            assert (outcome.decision.chosen is None) == (chosen is None)
            if chosen is not None:
                assert outcome.decision.chosen.solution == chosen.text
            expected = chosen.answer if chosen is not None and chosen.is_terminal else None
        assert outcome.decision.answer == expected


@pytest.mark.parametrize("worlds", first_world_fast(itertools.product(range(10), (1, 4, 16), (1, 2, 3), (3, 6))))
@pytest.mark.parametrize("ties", [False, True])
def test_mcts_matches_llm_reasoners(ties, worlds):
    for seed, n, children, depth in worlds:
        run_both(seed, ties, n, children, depth)


@pytest.mark.parametrize("worlds", first_world_fast(itertools.product(range(25), (False, True))))
@pytest.mark.parametrize("simulate", ["sample", "random"])
def test_mcts_simulation_choices_match(simulate, worlds):
    for seed, ties in worlds:
        run_both(200 + seed, ties, 8, 2, 5, simulate=simulate)


@pytest.mark.parametrize("worlds", first_world_fast(itertools.product(range(25), (False, True))))
@pytest.mark.parametrize("output", ["follow_max", "max_visit", "last_terminal_iter", "vote"])
def test_mcts_outputs_match(output, worlds):
    for seed, ties in worlds:
        run_both(400 + seed, ties, 8, 2, 5, output=output, c=0.5 + seed % 3)
