"""Training examples of the Lessons-recipe PRM (`lessons_prm.py`) from a policy's own samples.

Three sources, one example type (prompt, steps, checker labels, the shipped PRM's score):

- pool solutions kept by the MC/checker consensus (`prm_synth.synthesize`), read from its JSONL;
- the partial paths REBASE scored mid-tree: each scored, unfinished node of a search tree is
  labelled twice, by the exact checker (its path right so far?) and by Monte Carlo from the
  tree's own finished descendants of that node (does any reach the right answer?, the
  Lessons' hard MC label at threshold 0); a node is kept only where both agree, and only if
  some descendant finished (no MC estimate otherwise);
- hard negatives: wrong examples the shipped PRM scored at least `confident` (its confident
  mistakes), repeated in training.

Every step is labelled, first-error convention (wrong from the first error on), as the
shipped PRM was trained (`ladder_prm.build_rows`), not cut after the first error as the
Lessons paper does: REBASE weighs a node by its last step's score, and a node past an error
(a third of the shipped PRM's confident mid-tree mistakes) is scored at a step the cut
labels would leave unlabelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from infscale.experiments.training import ladder_ops as ops
from infscale.rewards.synth.agreement import step_labels
from infscale.search.node import Node, Tree
from infscale.tasks.base import Task


@dataclass(frozen=True)
class Example:
    """One training trajectory: `labels` are the checker's first-error labels of `steps`,
    `score` the shipped PRM's score of it (min over steps for a solution, last step for a
    tree node), `mc` the share of its MC completions that reached the right answer."""

    source: str
    problem_id: str
    prompt: str
    steps: tuple[str, ...]
    labels: tuple[bool, ...]
    score: float
    mc: float

    @property
    def wrong(self) -> bool:
        return not all(self.labels)


def pool_examples(records: Iterable[dict], scores: Sequence[Sequence[float]]) -> list[Example]:
    """Consensus-kept pool records (`prm_synth` JSONL lines) with the shipped PRM's step scores."""
    out = []
    for record, row in zip(records, scores, strict=True):
        if len(row) != len(record["steps"]):
            raise ValueError(f"record {record['id']}: {len(row)} scores for {len(record['steps'])} steps")
        soft = [x for x in record.get("mc_soft", []) if x is not None]
        out.append(
            Example(
                "pool",
                record["problem_id"],
                record["problem"],
                tuple(record["steps"]),
                tuple(step_labels(record["label"], len(record["steps"]))),
                min(row),
                soft[-1] if soft else float(bool(record["final_answer_correct"])),
            )
        )
    return out


def finished_below(node: Node) -> list[Node]:
    """The finished solutions (answer given) in the subtree under `node`."""
    out, todo = [], list(node.children)
    while todo:
        child = todo.pop()
        if child.answer is not None:
            out.append(child)
        todo.extend(child.children)
    return out


def tree_examples(tree: Tree, task: Task) -> tuple[list[Example], dict[str, int]]:
    """The scored mid-tree nodes of one search tree on which the checker and the tree's own MC
    estimate agree, and counts: scored mid-tree nodes, with an estimate, kept."""
    problem, kept = tree.problem, []
    counts = {"scored": 0, "estimated": 0, "kept": 0}
    for node in tree:
        if node.parent is None or node.step_scores is None or node.answer is not None or node.terminal:
            continue
        counts["scored"] += 1
        leaves = finished_below(node)
        if not leaves:
            continue
        counts["estimated"] += 1
        steps = tuple(task.split_steps(node.solution))
        if not steps:
            continue
        labels = tuple(task.process_labels(problem, list(steps)))
        mc = sum(task.is_correct(leaf.answer, problem.reference) for leaf in leaves) / len(leaves)
        if labels[-1] != (mc > 0.0):
            continue
        counts["kept"] += 1
        kept.append(Example("tree", problem.id, problem.prompt, steps, labels, float(node.score), mc))
    return kept, counts


def hard_negatives(examples: Iterable[Example], confident: float) -> list[Example]:
    """The confident mistakes: wrong examples the shipped PRM scored `confident` or higher."""
    if not 0.0 <= confident <= 1.0:
        raise ValueError(f"confident must lie in [0, 1], got {confident!r}")
    return [e for e in examples if e.wrong and e.score >= confident]


def training_rows(examples: Iterable[Example], repeat: int = 1) -> list[tuple[list[int], list[int]]]:
    """(token ids, per-token labels) of `ladder_prm.padded`: each step's checker label (0/1)
    at its tag, IGNORE_INDEX elsewhere; each example `repeat` times."""
    rows = []
    for example in examples:
        ids, tags = ops.encode_prm(example.prompt, example.steps)
        if len(tags) != len(example.labels):
            raise ValueError(f"example of {example.problem_id}: {len(example.labels)} labels for {len(tags)} steps")
        labels = [ops.IGNORE_INDEX] * len(ids)
        for tag, ok in zip(tags, example.labels):
            labels[tag] = int(ok)
        rows += [(ids, labels)] * repeat
    return rows
