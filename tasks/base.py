"""Problems and the task protocol: what a strategy needs to know about answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Problem:
    """One question. `prompt` is the exact text the policy continues."""

    id: str
    prompt: str
    reference: str
    level: int | str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


@runtime_checkable
class Task(Protocol):
    """Data and grading for one benchmark.

    `step_delimiter` ends a reasoning step (kept at the end of the step's text); the policy
    stops there when asked for one step, and `split_steps` cuts a trajectory at it.
    """

    name: str
    step_delimiter: str

    def problems(self) -> list[Problem]: ...

    def extract_answer(self, text: str) -> str | None: ...

    def is_correct(self, answer: str | None, reference: str) -> bool: ...

    def answer_key(self, answer: str) -> str:
        """A cheap canonical form: equal keys imply equivalent answers."""
        ...

    def equivalent(self, a: str, b: str) -> bool: ...

    def split_steps(self, text: str) -> list[str]: ...


@runtime_checkable
class StepCheckingTask(Task, Protocol):
    """A task that can check every step of a solution (the toy world, the simulated world).

    The oracle PRM, ground-truth step labels for PRM evaluation and the checker judge of
    PRM-data synthesis need this ability; GSM8K and MATH500 do not have it.
    """

    def label_steps(self, problem: Problem, steps: list[str] | tuple[str, ...]) -> list[bool]:
        """Whether each step is locally right (given the steps before it)."""
        ...

    def process_labels(self, problem: Problem, steps: list[str] | tuple[str, ...]) -> list[bool]:
        """First-error labels (ProcessBench): everything from the first wrong step on is wrong."""
        ...


@runtime_checkable
class PromptRenderingTask(Task, Protocol):
    """A task whose prompts wrap a bare question (a chat template): PRMs read the question."""

    def question_for(self, prompt: str) -> str: ...


def first_error_labels(local: list[bool]) -> list[bool]:
    """Local step labels -> first-error labels: right only while every step so far is right."""
    labels, ok = [], True
    for label in local:
        ok = ok and label
        labels.append(ok)
    return labels


class TextTask:
    """Shared behaviour of text tasks: steps cut at the delimiter, answers compared as text."""

    name = "text"
    step_delimiter = "\n"

    def split_steps(self, text: str) -> list[str]:
        """Steps of a solution, each with its delimiter; empty steps are kept out."""
        parts = text.split(self.step_delimiter)
        steps = [p + self.step_delimiter for p in parts[:-1]]
        if parts[-1]:
            steps.append(parts[-1])
        return [s for s in steps if s.strip()]

    def answer_key(self, answer: str) -> str:
        return answer.strip()

    def equivalent(self, a: str, b: str) -> bool:
        return self.answer_key(a) == self.answer_key(b)

    def is_correct(self, answer: str | None, reference: str) -> bool:
        return answer is not None and self.equivalent(answer, reference)


def equivalence_is_key(task: Task) -> bool:
    """Whether the task's `equivalent` is its `answer_key`'s equality (the text tasks' default,
    unless a task grades more loosely): answers can then be grouped by key alone, no pairwise scan."""
    return type(task).equivalent in (Task.equivalent, TextTask.equivalent)


def derive_seed(*parts: Any) -> int:
    """A stable 62-bit seed from any parts (run seed, problem id, node id, ...)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 62) - 1)
