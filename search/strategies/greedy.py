"""Greedy decoding: one solution at temperature 0, the baseline of both papers."""

from __future__ import annotations

from dataclasses import dataclass

from infscale.search.node import Node
from infscale.search.ops import Expand
from infscale.search.strategy import Run, Strategy


@dataclass
class Greedy(Strategy):
    def run(self, root: Node) -> Run:
        solutions = yield Expand([root], n=1, until="end", temperature=0.0)
        return self.decide(solutions)
