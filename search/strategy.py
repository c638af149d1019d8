"""The base of every search strategy: its config fields and how it decides."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from infscale.search.node import Node
from infscale.search.ops import Decision, Expand, Score
from infscale.search.selection import AGGREGATIONS, SELECTORS, UNANSWERED, aggregate, select
from infscale.tasks.base import Task

Run = Generator[Expand | Score, Any, Decision]


@dataclass
class Strategy:
    """A search for one problem, written as a generator of `Expand` / `Score` operations.

    Subclasses add their own config fields and implement `run(root)`. They never see a
    backend, a batch or another problem; the `task` is there only to group equivalent
    answers when voting.
    """

    task: Task
    n: int
    selector: str
    aggregation: str
    max_depth: int
    unanswered: str

    def __post_init__(self) -> None:
        for key in ("n", "max_depth"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"strategy.{key} must be a positive integer, got {value!r}")
        if self.selector not in SELECTORS:
            raise ValueError(f"unknown strategy.selector '{self.selector}' (known: {', '.join(SELECTORS)})")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown strategy.aggregation '{self.aggregation}' (known: {', '.join(AGGREGATIONS)})")
        if self.unanswered not in UNANSWERED:
            raise ValueError(f"unknown strategy.unanswered '{self.unanswered}' (known: {', '.join(UNANSWERED)})")

    def run(self, root: Node) -> Run:
        raise NotImplementedError

    def value(self, node: Node) -> float:
        """How good a partial trajectory looks: its aggregated step scores (0 if unscored)."""
        value = aggregate(node.step_scores, self.aggregation)
        return 0.0 if value is None else value

    def ranked(self, nodes: list[Node]) -> list[Node]:
        """Best first; ties by node id (creation order)."""
        return sorted(nodes, key=lambda x: (-self.value(x), x.id))

    def decide(self, finished: list[Node]) -> Decision:
        """The selector's choice among `finished` (with `unanswered: vote`, a candidate without
        an answer votes for "no answer" and, chosen, makes the decision None: wrong)."""
        chosen = select(finished, self.selector, self.aggregation, self.task, self.unanswered)
        return Decision(answer=None if chosen is None else chosen.answer, candidates=finished, chosen=chosen)
