"""A hand-scripted world: every step's score, end and answer written down by the test.

A step's text is its label, the path of child numbers from the root ("2", "2.1", "2.1.3"),
so a tree can be read back by label. The k-th child ever sampled from a node gets number
k (1-based), in the order the engine issues the samples. `Script` maps a label to its PRM
score and, for a step that ends the solution, its answer; labels it does not name score
`default` and go on. The test states the right behaviour by hand from that table.

It drives the real `Engine` (expansion, settling, scoring, ledger), so what the strategies
receive is what they receive in a run.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from infscale.search.backends import GenerationRequest, GenerationResult, RewardModel, Sample, ScoreRequest
from infscale.search.engine import Engine, Sampling
from infscale.search.node import Node, Tree
from infscale.search.ops import Decision
from infscale.tasks.base import Problem, TextTask
from tests.engine_helpers import strategy

_ANSWER = re.compile(r"answer=(\w+)")


@dataclass
class Script:
    scores: dict[str, float] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    default: float = 0.5

    def score(self, label: str) -> float:
        return self.scores.get(label, self.default)

    def text(self, label: str) -> str:
        answer = self.answers.get(label)
        return f"{label}\n" if answer is None else f"{label} answer={answer}\n"


class ScriptedTask(TextTask):
    name = "scripted"
    step_delimiter = "\n"

    def problems(self) -> list[Problem]:
        return [Problem(id="q", prompt="Q\n", reference="A")]

    def extract_answer(self, text: str) -> str | None:
        found = _ANSWER.findall(text)
        return found[-1] if found else None


def label_of(text: str) -> str:
    """The label of a step's text ("2.1 answer=B\\n" -> "2.1")."""
    return text.split()[0] if text.strip() else ""


class ScriptedPolicy:
    """One token per step; `until="end"` follows each new step's first child to an answer."""

    name, spec = "scripted", None

    def __init__(self, script: Script, max_steps: int = 12):
        self.script, self.max_steps = script, max_steps
        self.children: Counter = Counter()
        self.requests: list[GenerationRequest] = []

    def count_tokens(self, text: str) -> int:
        return text.count("\n")

    def _child(self, solution: str) -> str:
        parent = label_of(solution.splitlines()[-1]) if solution else ""
        self.children[parent] += 1
        return f"{parent}.{self.children[parent]}" if parent else str(self.children[parent])

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        results = []
        self.requests += requests
        for request in requests:
            solution = request.prompt[len("Q\n") :]
            samples = []
            for _ in range(request.n):
                text = ""
                while True:
                    label = self._child(solution + text)
                    text += self.script.text(label)
                    ended = label in self.script.answers
                    if ended or request.until == "step" or text.count("\n") >= self.max_steps:
                        break
                samples.append(Sample(text, text.count("\n"), "end" if ended else "step"))
            results.append(GenerationResult(samples, self.count_tokens(request.prompt), 0))
        return results


class BlankFirstChild(ScriptedPolicy):
    """The scripted policy, except that the root's first child is a blank step (no text)."""

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        results = super().generate(requests)
        for result in results:
            result.samples[:] = [Sample("", 0, "step") if s.text == "1\n" else s for s in result.samples]
        return results


class ScriptedPRM(RewardModel):
    name, spec, outcome = "scripted", None, False

    def __init__(self, script: Script):
        self.script = script

    def count_tokens(self, request: ScoreRequest) -> int:
        return len(request.steps) + 1

    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        return [[self.script.score(label_of(step)) for step in request.steps] for request in requests]


TASK = ScriptedTask()


def run_scripted(script: Script, name: str, policy: ScriptedPolicy | None = None, **params) -> tuple[Tree, Decision]:
    """One problem searched by strategy `name` (its YAML, `params` overriding) in the
    scripted world: (its tree, its decision)."""
    engine = Engine(
        TASK,
        policy or ScriptedPolicy(script),
        ScriptedPRM(script),
        sampling=Sampling(temperature=1.0, max_step_tokens=4, max_tokens=100),
    )
    (outcome,) = engine.run(TASK.problems(), strategy(name, TASK, **params))
    return outcome.tree, outcome.decision


def by_label(tree: Tree) -> dict[str, Node]:
    return {label_of(node.text): node for node in tree.nodes if node.parent is not None}


def children_labels(tree: Tree, label: str) -> list[str]:
    """The labels of a node's children, in creation order ("" is the root)."""
    node = tree.root if label == "" else by_label(tree)[label]
    return [label_of(child.text) for child in node.children]
