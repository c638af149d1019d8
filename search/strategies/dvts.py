"""Diverse verifier tree search, as search-and-learn's `_dvts` (Beeching et al., 2024).

N/M independent greedy subtrees, M = `beam_width`: the root is expanded once, N wide, and
subtree i owns children i*M ... i*M+M-1. Every iteration each live subtree scores its M
newest children and goes on from the best one (the first on ties); the subtree ends when
that child finished the solution, else the child is expanded into M children (the last
iteration, `max_depth`, to the end of the solution). The candidates are the M children of
each subtree's last expansion, whether they finished or not: an unfinished one has no
answer, so it votes for "no answer" (`unanswered: vote`) or not at all (`drop`).
"""

from __future__ import annotations

from dataclasses import dataclass

from infscale.search.node import Node
from infscale.search.ops import Expand, Score
from infscale.search.strategies.beam import check_beam_width
from infscale.search.strategy import Run, Strategy


@dataclass
class DVTS(Strategy):
    beam_width: int

    def __post_init__(self) -> None:
        super().__post_init__()
        check_beam_width(self.n, self.beam_width)

    def run(self, root: Node) -> Run:
        m = self.beam_width
        subtrees = self.n // m
        last_expansion: list[list[Node]] = [[] for _ in range(subtrees)]
        heads: dict[int, Node] = {}  # subtree -> the node it goes on from (read from depth 1 on)
        for depth in range(self.max_depth):
            until = "end" if depth == self.max_depth - 1 else "step"
            if depth == 0:
                children = yield Expand([root], n=self.n, until=until)
                groups = {i: children[i * m : i * m + m] for i in range(subtrees)}
            else:
                live = sorted(heads)
                children = yield Expand([heads[i] for i in live], n=m, until=until)
                groups = {i: [x for x in children if x.parent is heads[i]] for i in live}
            scored = yield Score([x for group in groups.values() for x in group])
            kept = set(map(id, scored))
            heads = {}
            for i, group in groups.items():
                group = [x for x in group if id(x) in kept]
                if not group:
                    continue
                last_expansion[i] = group
                best = max(group, key=lambda x: (self.value(x), -group.index(x)))
                if not (best.terminal or best.text == "") and len(group) == m:
                    heads[i] = best
            if not heads:
                break
        return self.decide([x for group in last_expansion for x in group])
