"""Diverse verifier tree search (search-and-learn): N/M independent greedy subtrees.

Each subtree expands its current node into M children, keeps the best-scored one and goes
on from it; it ends when its best child is a finished solution. Every finished child is a
candidate for the final vote.
"""

from __future__ import annotations

from dataclasses import dataclass

from infscale.search.node import Node
from infscale.search.ops import Expand, Score
from infscale.search.strategy import Run, Strategy


@dataclass
class DVTS(Strategy):
    beam_width: int

    def run(self, root: Node) -> Run:
        width = min(self.beam_width, self.n)
        subtrees = max(1, self.n // width)
        finished: list[Node] = []
        children = yield Expand([root], n=subtrees * width)
        groups = [children[i : i + width] for i in range(0, len(children), width)]
        while groups:
            scored = yield Score([x for group in groups for x in group])
            kept = set(map(id, scored))
            heads = []
            for group in groups:
                group = [x for x in group if id(x) in kept]
                finished += [x for x in group if x.terminal]
                if group and not self.ranked(group)[0].terminal:
                    heads.append(self.ranked(group)[0])
            children = yield Expand(heads, n=width)
            groups = [[x for x in children if x.parent is head] for head in heads]
            groups = [g for g in groups if g]
        return self.decide(finished)
