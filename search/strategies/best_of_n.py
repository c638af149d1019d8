"""Best-of-N: N full solutions, one answer by majority, weighted voting or the best score."""

from __future__ import annotations

from dataclasses import dataclass

from infscale.search.node import Node
from infscale.search.ops import Expand, Score
from infscale.search.strategy import Run, Strategy


@dataclass
class BestOfN(Strategy):
    def run(self, root: Node) -> Run:
        solutions = yield Expand([root], n=self.n, until="end")
        if self.selector != "majority":
            solutions = yield Score(solutions)
        return self.decide(solutions)
