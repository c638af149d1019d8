"""The simulated world's problems: abstract multi-step chains with a known truth.

A problem is a chain of `steps` values modulo 1000, `v_i = (7 * v_{i-1} + b_i) mod 1000`,
started and parametrised by a per-problem key; harder levels have more steps. Texts are
tiny stand-ins for real reasoning ("Step 2: v=417 #38" says the step stood for 38 tokens),
so the simulated policy and PRM can read a trajectory back and know which steps are right.
No neural network is involved; it is the fixture for tests and engine benchmarks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infscale.tasks.base import Problem, TextTask, derive_seed, first_error_labels

MODULUS = 1000
_HEADER = re.compile(r"^Problem (\S+): level (\d+), (\d+) steps, key (\d+)\. #(\d+)\n")
_VALUE = re.compile(r"v=(\d+)")
_TOKENS = re.compile(r"#(\d+)")
_ANSWER = re.compile(r"The answer is (\d+)")


@dataclass(frozen=True)
class ChainSpec:
    """What the simulated models read from a prompt."""

    problem_id: str
    level: int
    steps: int
    key: int

    def start(self) -> int:
        return self.key % MODULUS

    def transition(self, value: int, step: int) -> int:
        return (7 * value + (self.key // (step + 1)) % 97 + step) % MODULUS

    def truth(self) -> list[int]:
        values, value = [], self.start()
        for step in range(1, self.steps + 1):
            value = self.transition(value, step)
            values.append(value)
        return values


def parse_prompt(prompt: str) -> tuple[ChainSpec, int, str]:
    """The chain, the prompt's own token count, and the solution text after the header."""
    match = _HEADER.match(prompt)
    if match is None:
        raise ValueError(f"not a simulated-world prompt: {prompt[:60]!r}")
    pid, level, steps, key, tokens = match.groups()
    return ChainSpec(pid, int(level), int(steps), int(key)), int(tokens), prompt[match.end() :]


def step_values(solution: str) -> list[int]:
    return [int(v) for v in _VALUE.findall(solution)]


def count_tokens(text: str) -> int:
    return sum(int(t) for t in _TOKENS.findall(text))


class SimulatedTask(TextTask):
    name = "simulated"
    step_delimiter = "\n"

    def __init__(self, n: int, seed: int, level: int | str, prompt_tokens: int):
        if level != "mixed" and (not isinstance(level, int) or not 1 <= level <= 5):
            raise ValueError(f"task.level must be 'mixed' or 1..5 for the simulated task, got {level!r}")
        if n < 1:
            raise ValueError(f"task.n must be a positive integer, got {n!r}")
        self.n, self.seed, self.level, self.prompt_tokens = n, seed, level, prompt_tokens

    def problems(self) -> list[Problem]:
        problems = []
        for i in range(self.n):
            key = derive_seed("simulated-task", self.seed, i) % 10**9
            level = (key % 5) + 1 if self.level == "mixed" else int(self.level)
            spec = ChainSpec(f"sim-{self.seed}-{i:05d}", level, level + 1, key)
            prompt = f"Problem {spec.problem_id}: level {level}, {spec.steps} steps, key {key}. #{self.prompt_tokens}\n"
            problems.append(Problem(spec.problem_id, prompt, str(spec.truth()[-1]), level))
        return problems

    def extract_answer(self, text: str) -> str | None:
        found = _ANSWER.findall(text)
        return found[-1] if found else None

    def label_steps(self, problem: Problem, steps: list[str] | tuple[str, ...]) -> list[bool]:
        """Step i is right when it states exactly the chain's true i-th value."""
        spec, _, _ = parse_prompt(problem.prompt)
        truth = spec.truth()
        return [
            len(values) == 1 and i < len(truth) and values[0] == truth[i]
            for i, values in enumerate(step_values(step) for step in steps)
        ]

    def process_labels(self, problem: Problem, steps: list[str] | tuple[str, ...]) -> list[bool]:
        return first_error_labels(self.label_steps(problem, steps))
