"""Monte Carlo tree search, as llm-reasoners' `MCTS` (reasoners/algorithm/mcts.py).

A step is an action; its PRM score (last step) is both its `fast_reward` (known when it is
generated) and its reward (once visited). Each of the `n` iterations
1. selects from the root by UCT, `Q + c * sqrt(ln N_parent / max(1, N_child))` (Q the mean
   of a node's backed-up returns, or its fast reward until it is visited; N the number of
   returns; the first of equal children), down to a node not yet expanded or ended;
2. visits and expands it (`children` sampled steps, scored by the PRM);
3. simulates to a terminal: from there, repeatedly picks a child by `simulate` (`max` the
   first best fast reward, `sample` in proportion to it, `random` uniformly), visiting and
   expanding each, until a solution ends or the step limit is reached;
4. backs up: every node on the path gets the sum of the rewards from itself to the end.
The answer (`output`): `max_reward` the ended path with the largest summed reward,
`follow_max` greedy by reward from the root (may stop short: no answer), `max_visit` the
ended node with the most returns, `last_terminal_iter` the last iteration's path if it
ended, `vote` the selector over every ended node visited. Candidates are the ended nodes
visited, in creation order. docs/strategies.md lists the differences from the reference.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from infscale.search.node import Node
from infscale.search.ops import Decision, Expand, Score
from infscale.search.strategy import Run, Strategy
from infscale.tasks.base import derive_seed

SIMULATE = ("max", "sample", "random")
OUTPUTS = ("max_reward", "follow_max", "max_visit", "last_terminal_iter", "vote")


def simulate_choice(how: str, rewards: list[float], rng: random.Random) -> int:
    """Which child a simulation takes: `max` the first best, `sample` with probability
    proportional to the reward (uniform if all are 0), `random` uniformly."""
    if how == "max":
        return max(range(len(rewards)), key=lambda k: (rewards[k], -k))
    total = sum(rewards)
    if how == "random" or total <= 0:
        return rng.randrange(len(rewards))
    point, running = rng.random() * total, 0.0
    for k, reward in enumerate(rewards):
        running += reward
        if point < running:
            return k
    return len(rewards) - 1


@dataclass
class _Search:
    """The MCTS bookkeeping of one problem (llm-reasoners keeps it on its nodes)."""

    visited: set[Node] = field(default_factory=set)
    returns: dict[Node, list[float]] = field(default_factory=dict)
    kids: dict[Node, list[Node]] = field(default_factory=dict)
    last_ended_path: list[Node] | None = None


@dataclass
class MCTS(Strategy):
    children: int
    c: float
    simulate: str
    output: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.children, int) or isinstance(self.children, bool) or self.children < 1:
            raise ValueError(f"strategy.children must be a positive integer, got {self.children!r}")
        if isinstance(self.c, bool) or not isinstance(self.c, (int, float)) or not self.c >= 0:
            raise ValueError(f"strategy.c must be a number >= 0, got {self.c!r}")
        if self.simulate not in SIMULATE:
            raise ValueError(f"unknown strategy.simulate '{self.simulate}' (known: {', '.join(SIMULATE)})")
        if self.output not in OUTPUTS:
            raise ValueError(f"unknown strategy.output '{self.output}' (known: {', '.join(OUTPUTS)})")

    # --- the search -------------------------------------------------------------------

    def run(self, root: Node) -> Run:
        s = _Search(visited={root})
        rng = random.Random(derive_seed("mcts-simulate", root.tree.seed))
        for _ in range(self.n):
            path = self._select(s, root)
            if not self._stops(s, path[-1]):
                yield from self._expand(s, path[-1])
                node = path[-1]
                while True:  # simulate
                    if node not in s.visited:
                        yield from self._expand(s, node)
                    if self._stops(s, node) or not s.kids.get(node):
                        break
                    options = s.kids[node]
                    node = options[simulate_choice(self.simulate, [self._reward(x) for x in options], rng)]
                    path.append(node)
            for k, node in enumerate(path):  # back up the sum of the rewards from each node down
                s.returns.setdefault(node, []).append(sum(self._reward(x) for x in path[k:]))
            if self._ended(s, path[-1]):
                s.last_ended_path = path
        return self._output(s, root)

    def _reward(self, node: Node) -> float:
        return 0.0 if node.parent is None or node.score is None else node.score

    def _ended(self, s: _Search, node: Node) -> bool:
        """llm-reasoners' `is_terminal`: known once visited; the step limit is not an end."""
        return node in s.visited and node.terminal and node.finish != "depth"

    def _stops(self, s: _Search, node: Node) -> bool:
        return self._ended(s, node) or node.depth >= self.max_depth

    def _select(self, s: _Search, node: Node) -> list[Node]:
        path = [node]
        while s.kids.get(node) and not self._stops(s, node):
            parent_n = len(s.returns[node])
            node = max(s.kids[node], key=lambda x: self._uct(s, x, parent_n))
            path.append(node)
        return path

    def _uct(self, s: _Search, node: Node, parent_n: int) -> float:
        returns = s.returns.get(node, [])
        q = sum(returns) / len(returns) if node in s.visited else self._reward(node)
        return q + self.c * math.sqrt(math.log(parent_n) / max(1, len(returns)))

    def _expand(self, s: _Search, node: Node) -> Run:
        s.visited.add(node)
        if node.terminal or node.depth >= self.max_depth:
            return
        kids = yield Expand([node], n=self.children)
        s.kids[node] = (yield Score(kids)) if kids else []

    # --- the answer -------------------------------------------------------------------

    def _output(self, s: _Search, root: Node) -> Decision:
        ended = [x for x in root.tree.nodes if self._ended(s, x)]
        if self.output == "vote":
            return self.decide(ended)
        chosen = None
        if self.output == "max_reward":
            best, path = self._dfs_max_reward(s, [root])
            chosen = path[-1] if best > -math.inf else None
        elif self.output == "follow_max":
            chosen = root
            while not self._ended(s, chosen):
                seen = [x for x in s.kids.get(chosen, []) if x in s.visited]
                if not seen:
                    break
                chosen = max(seen, key=self._reward)
        elif self.output == "max_visit":
            chosen = max(ended, key=lambda x: len(s.returns[x]), default=None)
        elif s.last_ended_path is not None:
            chosen = s.last_ended_path[-1]
        answer = chosen.answer if chosen is not None and self._ended(s, chosen) else None
        return Decision(answer=answer, candidates=ended, chosen=chosen)

    def _dfs_max_reward(self, s: _Search, path: list[Node]) -> tuple[float, list[Node]]:
        node = path[-1]
        if self._ended(s, node):
            return sum(self._reward(x) for x in path[1:]), path
        seen = [x for x in s.kids.get(node, []) if x in s.visited]
        if not seen:
            return -math.inf, path
        return max((self._dfs_max_reward(s, path + [x]) for x in seen), key=lambda t: t[0])
