"""Monte Carlo tree search with UCT selection and PRM values.

Each of the N iterations walks from the root by `Q + c * sqrt(ln N_parent / N_child)` to a
node not yet expanded, expands it into `children` steps, values each child by its PRM score
(or, with `rollout`, by the aggregated score of one sampled completion, which also becomes
a candidate) and backs the values up the path as running means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infscale.search.node import Node
from infscale.search.ops import Expand, Score
from infscale.search.strategy import Run, Strategy


@dataclass
class MCTS(Strategy):
    root_children: int
    children: int
    c: float
    rollout: bool

    def run(self, root: Node) -> Run:
        visits: dict[Node, int] = {}
        totals: dict[Node, float] = {}
        finished: list[Node] = []
        expanded: set[Node] = set()

        def backup(path: list[Node], values: list[float]) -> None:
            for node in path:
                visits[node] = visits.get(node, 0) + len(values)
                totals[node] = totals.get(node, 0.0) + sum(values)

        def uct(parent: Node, child: Node) -> float:
            q = totals[child] / visits[child]
            return q + self.c * math.sqrt(math.log(visits[parent]) / visits[child])

        leaf, path, width = root, [root], self.root_children
        for _ in range(self.n):
            if leaf.terminal:
                backup(path, [self.value(leaf)])
            else:
                expanded.add(leaf)
                kids = yield Expand([leaf], n=width)
                kids = yield Score(kids)
                if not kids:
                    break
                finished += [x for x in kids if x.terminal]
                values = []
                for kid in kids:
                    value = self.value(kid)
                    if self.rollout and not kid.terminal:
                        completions = yield Score((yield Expand([kid], n=1, until="end")))
                        finished += completions
                        value = self.value(completions[0]) if completions else value
                    visits[kid], totals[kid] = 1, value
                    values.append(value)
                backup(path, values)
            leaf, path, width = root, [root], self.children
            while leaf in expanded and not leaf.terminal:
                scored = [x for x in leaf.children if x in visits]
                if not scored:
                    break
                leaf = max(scored, key=lambda x: (uct(path[-1], x), -x.id))
                path.append(leaf)
        return self.decide(finished)
