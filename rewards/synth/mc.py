"""Monte Carlo estimation of step labels (Math-Shepherd; Qwen PRM lessons, section 2).

From the prefix that ends at step i of a sampled solution, a completer finishes the solution
k times; the soft label of step i is the share of completions that reach the right answer
and the hard label is `soft > threshold` (threshold 0: at least one does, the paper's best).
The final step needs no completion: its label is whether the solution's own answer is right.
The MC first error is the first hard negative; later steps are dropped when training.

`MCEstimation` is a strategy: for each problem it grafts the given solutions onto the
search tree as a trie of steps (solutions that share a prefix share its node) and asks for
k completions of every distinct prefix in one `Expand`, so the engine batches completions
across prefixes, solutions and problems for any policy backend.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from search.node import Node
from search.ops import Decision, Expand
from search.strategy import Run, Strategy
from tasks.base import Problem, Task


@dataclass
class MCEstimation(Strategy):
    """`solutions[problem_id]` lists step tuples to label; k completions per prefix."""

    k: int = 8
    solutions: Mapping[str, Sequence[Sequence[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1:
            raise ValueError(f"mc.k must be a positive integer, got {self.k!r}")

    def run(self, root: Node) -> Run:
        ends, internal = [], {}
        for steps in self.solutions.get(root.problem.id, ()):
            if not steps:
                raise ValueError(f"problem {root.problem.id}: a solution to label has no steps")
            node = root
            for i, step in enumerate(steps):
                node = _graft(node, step)
                if i < len(steps) - 1:
                    internal[node.id] = node
            ends.append(node)
        if internal:
            yield Expand(list(internal.values()), n=self.k, until="end")
        return Decision(answer=None, candidates=ends)


GIVEN = "given"


def _graft(parent: Node, step: str) -> Node:
    """The child of `parent` holding the given step `step`, shared by solutions that share
    the prefix (so a prefix is completed k times, however many solutions start with it)."""
    for child in parent.children:
        if child.finish == GIVEN and child.text == step:
            return child
    return parent.tree.add_child(parent, text=step, tokens=None, finish=GIVEN)


@dataclass(frozen=True)
class MCLabels:
    soft: tuple[float, ...]
    hard: tuple[bool, ...]
    completions: tuple[int, ...]

    @property
    def first_error(self) -> int:
        for i, ok in enumerate(self.hard):
            if not ok:
                return i
        return -1


def mc_labels(end: Node, problem: Problem, task: Task, threshold: float = 0.0) -> MCLabels:
    """Soft and hard labels for the solution ending at `end` (a candidate of `MCEstimation`)."""
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"mc.threshold must lie in [0, 1), got {threshold!r}")
    soft, counts = [], []
    for node in end.path()[1:-1]:
        finished = [c for c in node.children if c.finish != GIVEN]
        right = sum(task.is_correct(c.answer, problem.reference) for c in finished)
        soft.append(right / len(finished) if finished else 0.0)
        counts.append(len(finished))
    soft.append(float(task.is_correct(task.extract_answer(end.solution), problem.reference)))
    counts.append(0)
    return MCLabels(tuple(soft), tuple(s > threshold for s in soft), tuple(counts))
