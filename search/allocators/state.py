"""One problem's place in an allocated run: its samples so far, its ledger, the allocator's
latest estimate, and whether it is still open. Saved after every wave, so a killed run
resumes from the last wave with the same trees, ledgers and decisions."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from infscale.budgets.ledger import Ledger
from infscale.search.node import Node, Tree
from infscale.tasks.base import Problem

_LEDGER_FIELDS = tuple(f.name for f in fields(Ledger) if f.name not in ("policy", "reward"))
_SAMPLE_FIELDS = ("text", "tokens", "context", "finish", "answer", "step_scores", "reward_tokens")


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

    @property
    def samples(self) -> list[Node]:
        """The finished solutions drawn so far (children of the root that are terminal)."""
        return [c for c in self.tree.root.children if c.terminal]

    def close(self, reason: str) -> None:
        self.open, self.reason = False, reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "open": self.open,
            "reason": self.reason,
            "estimate": self.estimate,
            "grants": self.grants,
            "wall_s": self.wall_s,
            "expansions": self.tree.root.expansions,
            "ledger": {k: getattr(self.ledger, k) for k in _LEDGER_FIELDS},
            "samples": [
                {**{k: getattr(c, k) for k in _SAMPLE_FIELDS}, "prefills": [list(p) for p in c.prefills]}
                for c in self.tree.root.children
            ],
        }

    @classmethod
    def fresh(cls, problem: Problem, ledger: Ledger) -> ProblemState:
        return cls(problem, Tree(problem), ledger)

    @classmethod
    def from_dict(cls, problem: Problem, data: dict[str, Any], ledger: Ledger) -> ProblemState:
        tree = Tree(problem)
        tree.root.expansions = data["expansions"]
        for sample in data["samples"]:
            child = tree.add_child(tree.root, **{k: sample[k] for k in _SAMPLE_FIELDS})
            child.terminal = child.finish != "step"
            child.prefills = [tuple(p) for p in sample["prefills"]]
        for key, value in data["ledger"].items():
            setattr(ledger, key, value)
        return cls(
            problem, tree, ledger, data["open"], data["reason"], data["estimate"], data["grants"], data["wall_s"]
        )
