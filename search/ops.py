"""What a strategy yields to the engine, and what it finally returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from infscale.search.node import Node


@dataclass
class Expand:
    """Sample `n` continuations of each node (`n` a number, or one number per node).

    The engine answers with the new child nodes, in the order of `nodes` and then of the
    samples. Under a budget the answer may hold fewer children, or none.
    """

    nodes: list[Node]
    n: int | list[int]
    until: Literal["step", "end"] = "step"
    temperature: float | None = None

    def __post_init__(self) -> None:
        if self.until not in ("step", "end"):
            raise ValueError(f"Expand(until={self.until!r}): a strategy samples until 'step' or 'end'")

    def widths(self) -> list[int]:
        if isinstance(self.n, int):
            return [self.n] * len(self.nodes)
        if len(self.n) != len(self.nodes):
            raise ValueError(f"Expand got {len(self.n)} widths for {len(self.nodes)} nodes")
        return list(self.n)


@dataclass
class Score:
    """Per-step rewards for each node's trajectory. The engine answers with the nodes that
    were scored (all of them unless a FLOP budget ran out), `step_scores` filled in."""

    nodes: list[Node]


@dataclass
class Decision:
    answer: str | None
    candidates: list[Node] = field(default_factory=list)
    chosen: Node | None = None
