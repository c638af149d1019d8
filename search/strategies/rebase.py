"""REBASE (Wu et al. 2024, Sec. 3.1.2): reward-balanced tree search.

Start with N children of the root. At every depth score the unfinished nodes; finished
ones are candidates and shrink the width; the remaining width is split over the unfinished
nodes, best first, in proportion to exp(score / T), rounding up one node at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infscale.search.node import Node
from infscale.search.ops import Expand, Score
from infscale.search.strategy import Run, Strategy


def balance(scores: list[float], width: int, temperature: float) -> list[int]:
    """Sequential-ceil split of `width` over nodes sorted by score (descending).

    w_j = ceil(W_left * exp(s_j/T) / S_left), then W_left -= w_j and S_left -= exp(s_j/T);
    the widths sum exactly to `width`. Scores are shifted by their maximum before the
    exponential, which leaves every ratio unchanged and keeps it finite.
    """
    if not scores:
        return []
    top = max(scores)
    weights = [math.exp((s - top) / temperature) for s in scores]
    remaining_weight = [math.fsum(weights[j:]) for j in range(len(weights))]
    widths, left = [], width
    for j, weight in enumerate(weights):
        if j == len(weights) - 1:
            share = left
        else:
            share = min(left, math.ceil(left * weight / remaining_weight[j]))
        widths.append(share)
        left -= share
    return widths


@dataclass
class Rebase(Strategy):
    balance_temperature: float

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.balance_temperature > 0:
            raise ValueError(f"strategy.balance_temperature must be > 0, got {self.balance_temperature!r}")

    def run(self, root: Node) -> Run:
        frontier = yield Expand([root], n=self.n)
        finished: list[Node] = []
        width = self.n
        while frontier and width > 0:
            frontier = yield Score(frontier)
            done = [x for x in frontier if x.terminal]
            finished += done
            width -= len(done)
            alive = sorted((x for x in frontier if not x.terminal), key=lambda x: (-x.score, x.id))
            if width <= 0 or not alive:
                break
            widths = balance([x.score for x in alive], width, self.balance_temperature)
            frontier = yield Expand(alive, n=widths)
        return self.decide(finished)
