"""Monte Carlo estimation of step labels (Math-Shepherd; Qwen PRM lessons, section 2).

From the prefix that ends at step i of a sampled solution, a completer finishes the solution
k times; the soft label of step i is the share of completions that reach the right answer
and the hard label is `soft > threshold` (threshold 0: at least one does, the paper's best).
The final step needs no completion: its label is whether the solution's own answer is right.
The MC first error is the first hard negative; later steps get no label (None), as the
paper drops them.

`MCEstimation` is a strategy: for each problem it grafts the given solutions onto the
search tree as a trie of steps (solutions that share a prefix share its node) and asks for
k completions of every distinct prefix in one `Expand`, so the engine batches completions
across prefixes, solutions and problems for any policy backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from infscale.search.node import Node
from infscale.search.ops import Decision, Expand
from infscale.search.strategy import Run, Strategy
from infscale.tasks.base import Problem, Task


@dataclass
class MCEstimation(Strategy):
    """`solutions[problem_id]` lists step tuples to label; k completions per prefix.

    With `stop_at_first_negative` (the default) prefixes are completed depth by depth and a
    solution stops at its first hard negative, whose later steps the labels drop anyway;
    otherwise every prefix is completed in one round.
    """

    # Not a configured search (no YAML): the Strategy options it does not use are fixed here.
    n: int = 1
    selector: str = "majority"
    aggregation: str = "last"
    max_depth: int = 25
    unanswered: str = "vote"
    k: int = 8
    threshold: float = 0.0
    stop_at_first_negative: bool = True
    solutions: Mapping[str, Sequence[Sequence[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1:
            raise ValueError(f"mc.k must be a positive integer, got {self.k!r}")
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError(f"mc.threshold must lie in [0, 1), got {self.threshold!r}")

    def run(self, root: Node) -> Run:
        ends, chains = [], []
        for steps in self.solutions.get(root.problem.id, ()):
            if not steps:
                raise ValueError(f"problem {root.problem.id}: a solution to label has no steps")
            node, chain = root, []
            for step in steps:
                node = _graft(node, step)
                chain.append(node)
            ends.append(node)
            chains.append(chain[:-1])
        if not self.stop_at_first_negative:
            todo = list({n.id: n for chain in chains for n in chain}.values())
            if todo:
                yield Expand(todo, n=self.k, until="end")
            return Decision(answer=None, candidates=ends)
        depth, alive = 0, [c for c in chains if c]
        while alive:
            todo = list({c[depth].id: c[depth] for c in alive if not _completions(c[depth])}.values())
            if todo:
                yield Expand(todo, n=self.k, until="end")
            alive = [c for c in alive if depth + 1 < len(c) and self._positive(c[depth], root.problem)]
            depth += 1
        return Decision(answer=None, candidates=ends)

    def _positive(self, node: Node, problem: Problem) -> bool:
        done = _completions(node)
        return bool(done) and _share_right(done, problem, self.task) > self.threshold


def _completions(node: Node) -> list[Node]:
    return [c for c in node.children if c.finish != GIVEN]


def _share_right(completions: Sequence[Node], problem: Problem, task: Task) -> float:
    return sum(task.is_correct(c.answer, problem.reference) for c in completions) / len(completions)


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
    """Per-step labels; None for steps after the first negative that were never completed."""

    soft: tuple[float | None, ...]
    hard: tuple[bool | None, ...]
    completions: tuple[int, ...]

    @property
    def first_error(self) -> int:
        for i, ok in enumerate(self.hard):
            if ok is False:
                return i
        return -1


def mc_labels(end: Node, problem: Problem, task: Task, threshold: float = 0.0) -> MCLabels:
    """Soft and hard labels for the solution ending at `end` (a candidate of `MCEstimation`)."""
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"mc.threshold must lie in [0, 1), got {threshold!r}")
    soft: list[float | None] = []
    counts = []
    for node in end.path()[1:-1]:
        done = _completions(node)
        soft.append(_share_right(done, problem, task) if done else None)
        counts.append(len(done))
    soft.append(float(task.is_correct(task.extract_answer(end.solution), problem.reference)))
    counts.append(0)
    hard = [None if x is None else x > threshold for x in soft]
    if False in hard:
        cut = hard.index(False) + 1
        soft[cut:] = [None] * (len(soft) - cut)
        hard[cut:] = [None] * (len(hard) - cut)
    return MCLabels(tuple(soft), tuple(hard), tuple(counts))
