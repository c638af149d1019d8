"""One problem's place in an allocated run: its samples so far, its ledger, the allocator's
latest estimate, and whether it is still open. Saved after every wave, so a killed run
resumes from the last wave with the same trees, ledgers and decisions."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from infscale.budgets.ledger import Ledger
from infscale.search.node import Node, Tree
from infscale.tasks.base import Problem

_LEDGER_FIELDS = tuple(f.name for f in fields(Ledger) if f.name not in ("policy", "reward"))
_NODE_FIELDS = ("text", "tokens", "context", "finish", "answer", "step_scores", "reward_tokens")
SAMPLE_FIELDS = (*_NODE_FIELDS, "prefills")  # a saved sample is a row of these (3x cheaper to write than a dict)


@dataclass
class ProblemState:
    problem: Problem
    tree: Tree
    ledger: Ledger
    open: bool = True
    reason: str = ""
    estimate: dict[str, Any] = field(default_factory=dict)
    grants: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # an allocator's, not saved
    saved: tuple[int, Any] = field(default=(0, None), repr=False, compare=False)  # changes(): samples, mark

    @property
    def samples(self) -> list[Node]:
        """The finished solutions drawn so far (children of the root that are terminal)."""
        return [c for c in self.tree.root.children if c.terminal]

    def close(self, reason: str) -> None:
        self.open, self.reason = False, reason

    def changes(self) -> dict[str, Any] | None:
        """What changed since the last call (the journal's entry for this problem: the head and
        the samples drawn since), or None if nothing did. Between waves a drawn solution never
        changes (best_of_n draws whole solutions), so a save costs the new samples only."""
        children = self.tree.root.children
        mark = (self.open, self.reason, len(self.grants), len(children), self.wall_s, tuple(self.estimate.items()))
        if mark == self.saved[1]:
            return None
        entry = {**self._head(), "new": [_sample(c) for c in children[self.saved[0] :]]}
        self.saved = (len(children), mark)
        return entry

    def _head(self) -> dict[str, Any]:
        return {
            "open": self.open,
            "reason": self.reason,
            "estimate": self.estimate,
            "grants": self.grants,
            "wall_s": self.wall_s,
            "expansions": self.tree.root.expansions,
            "ledger": {k: getattr(self.ledger, k) for k in _LEDGER_FIELDS},
        }

    @classmethod
    def fresh(cls, problem: Problem, ledger: Ledger) -> ProblemState:
        return cls(problem, Tree(problem), ledger)

    @classmethod
    def from_dict(cls, problem: Problem, data: dict[str, Any], ledger: Ledger) -> ProblemState:
        tree = Tree(problem)
        tree.root.expansions = data["expansions"]
        for row in data["samples"]:
            child = tree.add_child(tree.root, **dict(zip(_NODE_FIELDS, row)))
            child.terminal = child.finish != "step"
            child.prefills = [tuple(p) for p in row[len(_NODE_FIELDS)]]
        for key, value in data["ledger"].items():
            setattr(ledger, key, value)
        state = cls(
            problem, tree, ledger, data["open"], data["reason"], data["estimate"], data["grants"], data["wall_s"]
        )
        state.changes()  # what was loaded is saved already
        return state


_SAMPLE_ROW = attrgetter(*SAMPLE_FIELDS)


def _sample(node: Node) -> list[Any]:
    return [*_SAMPLE_ROW(node)]
