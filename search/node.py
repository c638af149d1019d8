"""Search trees: nodes of one problem's search, exportable to networkx and JSON."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from infscale.tasks.base import Problem


@dataclass(eq=False)
class Node:
    """One generated step (or, for `until="end"`, the rest of a solution).

    `context` is the prompt length in tokens the step was generated after (the policy's
    `count_tokens`), `tokens` the tokens generated for this node's own text. `prefills` lists
    (reused, computed) prompt tokens charged to every request that expanded this node, and
    `reward_tokens` / `reward_cached` the reward tokens charged to score it (computed at
    positions after the `reward_cached` reused ones), both by the reuse model
    (search/charges.py), so a saved tree recounts its ledger exactly.
    """

    id: int
    tree: Tree = field(repr=False)
    parent: Node | None = field(repr=False)
    text: str
    depth: int
    tokens: int | None = 0
    context: int | None = None
    finish: str = "root"
    terminal: bool = False
    answer: str | None = None
    step_scores: list[float] | None = None
    children: list[Node] = field(default_factory=list, repr=False)
    prefills: list[tuple[int | None, int | None]] = field(default_factory=list, repr=False)
    reward_tokens: int | None = 0
    reward_cached: int | None = 0
    expansions: int = 0

    @property
    def problem(self) -> Problem:
        return self.tree.problem

    @property
    def score(self) -> float | None:
        """The PRM's score of this node's last step (0 for a scored trajectory with no
        steps, e.g. only blank lines; None if not scored)."""
        if self.step_scores is None:
            return None
        return self.step_scores[-1] if self.step_scores else 0.0

    def path(self) -> list[Node]:
        nodes, node = [], self
        while node is not None:
            nodes.append(node)
            node = node.parent
        return nodes[::-1]

    @property
    def solution(self) -> str:
        """The generated text from the root to this node (without the prompt)."""
        texts, node = [], self
        while node is not None:  # not through path(): the engine asks this of every node
            texts.append(node.text)
            node = node.parent
        return "".join(reversed(texts))

    @property
    def generated(self) -> int | None:
        total, node = 0, self
        while node is not None:
            if node.tokens is None:
                return None
            total += node.tokens
            node = node.parent
        return total


class Tree:
    """All nodes of one problem's search, in creation order (ids 0, 1, 2, ...).

    `seed` (derived by the engine from the run seed and the problem) is there for strategies
    that make random choices of their own (MCTS's `simulate: sample | random`)."""

    def __init__(self, problem: Problem, seed: int = 0):
        self.problem, self.seed = problem, seed
        self.nodes: list[Node] = []
        self.root = self._new(parent=None, text="", depth=0, tokens=0, finish="root")

    def _new(self, parent: Node | None, **fields: Any) -> Node:
        node = Node(id=len(self.nodes), tree=self, parent=parent, **fields)
        self.nodes.append(node)
        if parent is not None:
            parent.children.append(node)
        return node

    def add_child(self, parent: Node, **fields: Any) -> Node:
        return self._new(parent, depth=parent.depth + 1, **fields)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def to_networkx(self) -> nx.DiGraph:
        graph = nx.DiGraph(problem_id=self.problem.id)
        for node in self.nodes:
            graph.add_node(
                node.id,
                text=node.text,
                depth=node.depth,
                tokens=node.tokens,
                context=node.context,
                step_scores=node.step_scores,
                terminal=node.terminal,
                finish=node.finish,
                answer=node.answer,
                prefills=[list(p) for p in node.prefills],
                reward_tokens=node.reward_tokens,
                reward_cached=node.reward_cached,
            )
            if node.parent is not None:
                graph.add_edge(node.parent.id, node.id)
        return graph

    def save(self, folder: Path) -> Path:
        """Write `folder/<file-safe id>.json` (node-link format) atomically."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{file_safe(self.problem.id)}.json"
        data = nx.node_link_data(self.to_networkx(), edges="edges")
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
        return path


def file_safe(problem_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", problem_id)


def load_tree(path: Path) -> nx.DiGraph:
    return nx.node_link_graph(json.loads(Path(path).read_text()), edges="edges")
