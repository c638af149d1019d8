"""The strategy an allocator runs in each wave: `grants[problem]` more full solutions from
the root of a continued tree, scored unless voting by majority; the decision is taken over
every solution the problem has drawn in all waves so far."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from infscale.search.node import Node
from infscale.search.ops import Decision, Expand, Score
from infscale.search.strategy import Run, Strategy


@dataclass
class TopUp(Strategy):
    grants: Mapping[str, int] = field(default_factory=dict)

    def run(self, root: Node) -> Run:
        wanted = self.grants.get(root.problem.id, 0)
        if wanted > 0:
            new = yield Expand([root], n=wanted, until="end")
            if new and self.selector != "majority":
                yield Score(new)
        return self.decide_all(root)

    def decide_all(self, root: Node) -> Decision:
        finished = [c for c in root.children if c.terminal]
        if self.selector != "majority":
            finished = [c for c in finished if c.step_scores is not None]  # the pool may have cut a Score
        return self.decide(finished)
