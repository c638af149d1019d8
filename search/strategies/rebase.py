"""REBASE (Wu et al. 2024, Sec. 3.1.2; thu-wyz/inference_scaling rebase.py): reward-balanced
tree search.

Start with N children of the root. At every depth score the new nodes; each one that
ended (finished, hit the token or step limit) takes one unit off the width, and those that
finished with an end of solution are the candidates; the remaining width is split over the
unfinished nodes by sequential ceil (`balance`) in the reference's order: by PRM score of
the last step, descending, equal scores the later node first (its stable ascending sort,
then reversed). `select_method: softmax_with_truncate` first keeps only the
ceil(`truncate_ratio` * count) best of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infscale.search.node import Node
from infscale.search.ops import Expand, Score
from infscale.search.strategy import Run, Strategy

SELECT_METHODS = ("softmax", "softmax_with_truncate")


def balance(scores: list[float], width: int, temperature: float) -> list[int]:
    """Sequential-ceil split of `width` over nodes sorted by score (descending).

    w_j = ceil(W_left * exp(s_j/T) / S_left), then W_left -= w_j and S_left -= exp(s_j/T);
    the widths sum exactly to `width`. The arithmetic after the exponentials is exact, so a
    share that is a whole number is that number: the reference's float32 tensors can ceil
    7.0000005 to 8. Each float weight is m / 2**k exactly; scaled by the largest 2**k they are
    integers in the same ratios, which is Fraction arithmetic without its gcds (6x faster).
    Scores are shifted by their maximum before the exponential, which leaves every ratio
    unchanged and keeps it finite.
    """
    if not scores:
        return []
    top = max(scores)
    ratios = [math.exp((s - top) / temperature).as_integer_ratio() for s in scores]
    scale = max(denominator for _, denominator in ratios)
    weights = [numerator * (scale // denominator) for numerator, denominator in ratios]
    widths, left, weight_left = [], width, sum(weights)
    for weight in weights:
        share = 0 if left <= 0 or weight_left == 0 else min(left, -(-left * weight // weight_left))
        widths.append(share)
        left -= share
        weight_left -= weight
    return widths


def reference_order(nodes: list[Node]) -> list[Node]:
    """Best score first; equal scores in reverse order of arrival (rebase.py's stable sort
    by score, then `reverse()`)."""
    return sorted(nodes, key=lambda x: x.score)[::-1]


@dataclass
class Rebase(Strategy):
    balance_temperature: float
    select_method: str
    truncate_ratio: float

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.balance_temperature > 0:
            raise ValueError(f"strategy.balance_temperature must be > 0, got {self.balance_temperature!r}")
        if self.select_method not in SELECT_METHODS:
            raise ValueError(
                f"unknown strategy.select_method '{self.select_method}' (known: {', '.join(SELECT_METHODS)})"
            )
        if isinstance(self.truncate_ratio, bool) or not 0 < self.truncate_ratio <= 1:
            raise ValueError(f"strategy.truncate_ratio must lie in (0, 1], got {self.truncate_ratio!r}")

    def run(self, root: Node) -> Run:
        frontier = yield Expand([root], n=self.n)
        finished: list[Node] = []
        width = self.n
        while frontier and width > 0:
            frontier = yield Score(frontier)
            done = [x for x in frontier if x.terminal]
            finished += [x for x in done if x.finish == "end"]
            width -= len(done)
            alive = reference_order([x for x in frontier if not x.terminal])
            if width <= 0 or not alive:
                break
            if self.select_method == "softmax_with_truncate":
                alive = alive[: math.ceil(len(alive) * self.truncate_ratio)]
            widths = balance([x.score for x in alive], width, self.balance_temperature)
            frontier = yield Expand(alive, n=widths)
        return self.decide(finished)
