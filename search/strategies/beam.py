"""Step-level beam search.

Keep M beams; expand each into N/M children; score; keep the top M unfinished children.
A child that finishes becomes a candidate and takes one beam with it, so the search ends
after M answers, when no beam is left, or at the depth limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from infscale.search.node import Node
from infscale.search.ops import Expand, Score
from infscale.search.strategy import Run, Strategy


@dataclass
class BeamSearch(Strategy):
    beam_width: int

    def run(self, root: Node) -> Run:
        beams = min(self.beam_width, self.n)
        children_per_beam = max(1, self.n // beams)
        finished: list[Node] = []
        frontier = yield Expand([root], n=self.n)
        while frontier:
            frontier = yield Score(frontier)
            finished += [x for x in frontier if x.terminal]
            alive = self.ranked([x for x in frontier if not x.terminal])
            keep = beams - len(finished)
            if keep <= 0 or not alive:
                break
            frontier = yield Expand(alive[:keep], n=children_per_beam)
        return self.decide(finished)
