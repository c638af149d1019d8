"""Adaptive consistency (Aggarwal et al., 2023): sample in rounds, stop once the answers agree.

The worked example of docs/tutorial.md. Each round draws `batch` more full solutions; the
search stops when the largest group of equivalent answers holds at least `agreement` of
all samples so far, or when `n` samples are spent. Easy problems stop after one round,
hard ones use the whole width, so majority-vote accuracy costs fewer samples on average.
"""

from __future__ import annotations

from dataclasses import dataclass

from infscale.search.node import Node
from infscale.search.ops import Expand, Score
from infscale.search.selection import group_answers
from infscale.search.strategy import Run, Strategy


@dataclass
class AdaptiveConsistency(Strategy):
    batch: int
    agreement: float

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.batch, int) or self.batch < 1:
            raise ValueError(f"strategy.batch must be a positive integer, got {self.batch!r}")
        if not 0 < self.agreement <= 1:
            raise ValueError(f"strategy.agreement must lie in (0, 1], got {self.agreement!r}")

    def run(self, root: Node) -> Run:
        samples: list[Node] = []
        while len(samples) < self.n:
            new = yield Expand([root], n=min(self.batch, self.n - len(samples)), until="end")
            if not new:
                break
            samples += new
            if self.agreed(samples):
                break
        if self.selector != "majority":
            samples = yield Score(samples)
        return self.decide(samples)

    def agreed(self, samples: list[Node]) -> bool:
        answers = [s.answer for s in samples if s.answer is not None]
        if not answers:
            return False
        largest = max(len(group) for group in group_answers(answers, self.task))
        return largest >= self.agreement * len(samples)
