"""The toy world: multi-step modular arithmetic whose every step can be checked exactly.

A problem is a start value and a chain of operations, computed left to right modulo 100:

    prompt    "47 +38 *3 -12\\n"
    solution  "47+38=85\\n85*3=55\\n55-12=43\\nanswer: 43"

One step per line; the last line states the answer and has no newline (the policy ends the
solution there with EOS). `label_steps` is the ground truth of the toy world: it labels every
step of any text, used by the oracle reward, by PRM training and by the PRM lab.

Problem `i` of `task.seed = s` at level `L` is drawn from `random.Random("toy_arith:s:L:i")`,
so a problem never depends on `n` or on the other levels. Seeds from `TRAIN_SEED_BASE` on
are reserved for training data (`experiments/training/train_toy.py`) and refused for evaluation.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from infscale.tasks.base import Problem, TextTask, first_error_labels

# The toy world's trained models ship inside the package (Hugging Face folders).
CHECKPOINTS = Path(__file__).resolve().parent / "toy_checkpoints"
MODULUS = 100
TRAIN_SEED_BASE = 1_000_000
ANSWER_PREFIX = "answer: "

_STEP = re.compile(r"^(\d+)([+\-*])(\d+)=(\d+)$")
_ANSWER = re.compile(r"^answer:\s*(\d+)$")
_ANSWER_ANYWHERE = re.compile(r"answer:\s*(\d+)")
_OP = re.compile(r"^([+\-*])(\d+)$")


@dataclass(frozen=True)
class Level:
    """Difficulty: number of operations and operand ranges."""

    steps: int
    add_max: int
    mul_max: int


LEVELS: dict[int, Level] = {
    1: Level(steps=2, add_max=9, mul_max=3),
    2: Level(steps=3, add_max=19, mul_max=5),
    3: Level(steps=4, add_max=49, mul_max=9),
    4: Level(steps=5, add_max=99, mul_max=9),
}


def apply(value: int, op: str, k: int) -> int:
    if op == "+":
        return (value + k) % MODULUS
    if op == "-":
        return (value - k) % MODULUS
    if op == "*":
        return (value * k) % MODULUS
    raise ValueError(f"unknown operation '{op}'")


def draw(rng: random.Random, level: int) -> tuple[int, tuple[tuple[str, int], ...]]:
    """A start value and operations for `level`, drawn from `rng`."""
    spec = _level_spec(level)
    ops = []
    for _ in range(spec.steps):
        op = rng.choice("+-*")
        k = rng.randint(2, spec.mul_max) if op == "*" else rng.randint(1, spec.add_max)
        ops.append((op, k))
    return rng.randrange(MODULUS), tuple(ops)


def format_prompt(start: int, ops: tuple[tuple[str, int], ...]) -> str:
    return " ".join([str(start)] + [f"{op}{k}" for op, k in ops]) + "\n"


def parse_prompt(prompt: str) -> tuple[int, tuple[tuple[str, int], ...]]:
    """Inverse of `format_prompt`; a clear error for text that is not a toy problem."""
    fields = prompt.strip().split(" ")
    if not fields or not fields[0].isdigit():
        raise ValueError(f"not a toy_arith prompt: {prompt!r}")
    ops = []
    for field in fields[1:]:
        match = _OP.match(field)
        if match is None:
            raise ValueError(f"not a toy_arith prompt: {prompt!r}")
        ops.append((match.group(1), int(match.group(2))))
    return int(fields[0]), tuple(ops)


def worked_solution(
    start: int,
    ops: tuple[tuple[str, int], ...],
    rng: random.Random | None = None,
    error_rate: float = 0.0,
) -> str:
    """The step-by-step solution; with `error_rate`, each step's result is replaced by a
    uniformly drawn wrong value with that probability and the chain continues from it."""
    lines, value = [], start
    for op, k in ops:
        result = apply(value, op, k)
        if rng is not None and error_rate > 0 and rng.random() < error_rate:
            result = (result + rng.randrange(1, MODULUS)) % MODULUS
        lines.append(f"{value}{op}{k}={result}")
        value = result
    lines.append(f"{ANSWER_PREFIX}{value}")
    return "\n".join(lines)


def _canonical(digits: str) -> int | None:
    return int(digits) if str(int(digits)) == digits else None


def _level_spec(level: int) -> Level:
    if level not in LEVELS:
        raise ValueError(f"unknown toy_arith level {level!r} (known: {sorted(LEVELS)}, mixed)")
    return LEVELS[level]


class ToyArithTask(TextTask):
    """Generated modular-arithmetic chains with an exact per-step checker."""

    name = "toy_arith"
    step_delimiter = "\n"

    def __init__(self, seed: int, level: int | str, n: int) -> None:
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"task.seed must be a non-negative integer, got {seed!r}")
        if seed >= TRAIN_SEED_BASE:
            raise ValueError(f"task.seed {seed} is reserved for training data (>= {TRAIN_SEED_BASE})")
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"task.n must be a positive integer, got {n!r}")
        if level != "mixed":
            level = int(level)
            _level_spec(level)
        self.seed, self.level, self.n = seed, level, n

    def problems(self) -> list[Problem]:
        levels = sorted(LEVELS)
        out = []
        for i in range(self.n):
            level = levels[i % len(levels)] if self.level == "mixed" else int(self.level)
            out.append(self.problem(self.seed, level, i))
        return out

    @staticmethod
    def problem(seed: int, level: int, index: int) -> Problem:
        start, ops = draw(random.Random(f"toy_arith:{seed}:{level}:{index}"), level)
        value = start
        for op, k in ops:
            value = apply(value, op, k)
        return Problem(
            id=f"s{seed}-L{level}-{index:05d}",
            prompt=format_prompt(start, ops),
            reference=str(value),
            level=level,
            meta={"start": start, "ops": ops},
        )

    def extract_answer(self, text: str) -> str | None:
        found = _ANSWER_ANYWHERE.findall(text)
        return found[-1] if found else None

    def answer_key(self, answer: str) -> str:
        text = answer.strip()
        return str(int(text)) if text.isdigit() else text

    def label_steps(self, problem: Problem, steps: list[str] | tuple[str, ...]) -> list[bool]:
        """Whether each step is locally right.

        Step i (i < number of operations) is right when it reads `a<op>k=b` in canonical
        digits, with `a` the start value (i = 0) or the result stated by the previous step,
        `<op>k` the problem's i-th operation and `b = a <op> k mod 100`. The step after the
        last operation must be `answer: b` with b the last stated result. Anything else
        (malformed, premature answer, extra steps) is wrong. A step that correctly continues
        from a wrong value is right here; `first_error` gives ProcessBench's convention.
        """
        start, ops = parse_prompt(problem.prompt)
        labels, previous = [], start
        for i, step in enumerate(steps):
            text = step.strip()
            if i < len(ops):
                match = _STEP.match(text)
                if match is None:
                    labels.append(False)
                    previous = None
                    continue
                a, op, k, b = (
                    _canonical(match.group(1)),
                    match.group(2),
                    _canonical(match.group(3)),
                    _canonical(match.group(4)),
                )
                ok = (
                    previous is not None
                    and a == previous
                    and (op, k) == ops[i]
                    and b is not None
                    and b == apply(a, op, k)
                )
                labels.append(ok)
                previous = b
            elif i == len(ops):
                match = _ANSWER.match(text)
                labels.append(match is not None and previous is not None and _canonical(match.group(1)) == previous)
            else:
                labels.append(False)
        return labels

    def first_error(self, problem: Problem, steps: list[str] | tuple[str, ...]) -> int | None:
        """Index of the first wrong step, or None when all steps are right and complete.

        An incomplete solution (no answer line) has its first error just past its last step.
        """
        labels = self.label_steps(problem, steps)
        for i, ok in enumerate(labels):
            if not ok:
                return i
        _, ops = parse_prompt(problem.prompt)
        return None if len(labels) == len(ops) + 1 else len(labels)

    def process_labels(self, problem: Problem, steps: list[str] | tuple[str, ...]) -> list[bool]:
        """First-error labels: a step is right only if it and every step before it are."""
        return first_error_labels(self.label_steps(problem, steps))

    def solution(self, problem: Problem) -> str:
        start, ops = parse_prompt(problem.prompt)
        return worked_solution(start, ops)
