"""A toy world with many valid solution paths: sums of terms modulo 100, in any order.

A problem is a start value and terms to add, some of them products:

    prompt    "47 +38 -12 +7*6\\n"
    solutions "47+38=85\\n85-12=73\\n7*6=42\\n73+42=15\\nanswer: 15"
              "7*6=42\\n47+42=89\\n89-12=77\\n77+38=15\\nanswer: 15"   (and others)

A step either applies a remaining term `+k` / `-k` to the running value (`v+k=r`), computes
a remaining product (`a*b=p`, any time), or adds a computed product to the running value
(`v+p=r`); the answer line follows when nothing is left. Every order is right, so a
policy trained on a mixture of orders samples different reasoning paths to the same
answer while its mistakes scatter: the situation in which voting over samples beats
greedy decoding (self-consistency, Wang et al. 2023).

`label_steps` is the exact checker of any such path. Problem `i` of `task.seed = s` at level
`L` comes from `random.Random("toy_sum:s:L:i")`; seeds from `TRAIN_SEED_BASE` on are
training data and refused for evaluation.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass

from infscale.tasks.base import Problem
from infscale.tasks.toy_arith import ANSWER_PREFIX, MODULUS, ToyArithTask, _canonical

_TERM = re.compile(r"^([+\-])(\d+)(?:\*(\d+))?$")
_APPLY = re.compile(r"^(\d+)([+\-])(\d+)=(\d+)$")
_PRODUCT = re.compile(r"^(\d+)\*(\d+)=(\d+)$")
_ANSWER = re.compile(r"^answer:\s*(\d+)$")

Term = tuple[str, int, int]  # ("+", k, 0) / ("-", k, 0) / ("*", a, b) for the product term +a*b


@dataclass(frozen=True)
class SumLevel:
    """Difficulty: additive terms (k in 1-99) and product terms (a in 2-`factor_max`, b in 2-9)."""

    additive: int
    products: int
    factor_max: int

    @property
    def steps(self) -> int:
        return self.additive + 2 * self.products


SUM_LEVELS: dict[int, SumLevel] = {
    1: SumLevel(additive=2, products=1, factor_max=9),
    2: SumLevel(additive=3, products=1, factor_max=19),
    3: SumLevel(additive=3, products=2, factor_max=49),
    4: SumLevel(additive=4, products=2, factor_max=99),
}


def draw_sum(rng: random.Random, level: int) -> tuple[int, tuple[Term, ...]]:
    if level not in SUM_LEVELS:
        raise ValueError(f"unknown toy_sum level {level!r} (known: {sorted(SUM_LEVELS)}, mixed)")
    spec = SUM_LEVELS[level]
    terms: list[Term] = [(rng.choice("+-"), rng.randint(1, 99), 0) for _ in range(spec.additive)]
    terms += [("*", rng.randint(2, spec.factor_max), rng.randint(2, 9)) for _ in range(spec.products)]
    rng.shuffle(terms)
    return rng.randrange(MODULUS), tuple(terms)


def format_sum_prompt(start: int, terms: tuple[Term, ...]) -> str:
    fields = [f"+{a}*{b}" if op == "*" else f"{op}{a}" for op, a, b in terms]
    return " ".join([str(start), *fields]) + "\n"


def parse_sum_prompt(prompt: str) -> tuple[int, tuple[Term, ...]]:
    fields = prompt.strip().split(" ")
    if not fields or not fields[0].isdigit():
        raise ValueError(f"not a toy_sum prompt: {prompt!r}")
    terms: list[Term] = []
    for field in fields[1:]:
        match = _TERM.match(field)
        if match is None or (match.group(3) is not None and match.group(1) != "+"):
            raise ValueError(f"not a toy_sum prompt: {prompt!r}")
        if match.group(3) is None:
            terms.append((match.group(1), int(match.group(2)), 0))
        else:
            terms.append(("*", int(match.group(2)), int(match.group(3))))
    return int(fields[0]), tuple(terms)


def sum_answer(start: int, terms: tuple[Term, ...]) -> int:
    total = start
    for op, a, b in terms:
        total += a * b if op == "*" else (a if op == "+" else -a)
    return total % MODULUS


def random_path(start: int, terms: tuple[Term, ...], rng: random.Random) -> str:
    """A right solution along a uniformly chosen legal move at every step: apply a remaining
    `+k`/`-k`, compute a remaining product, or add a computed one."""
    remaining, pending, value, lines = list(terms), [], start, []
    while remaining or pending:
        moves = [("term", t) for t in remaining] + [("add", p) for p in pending]
        kind, item = rng.choice(moves)
        if kind == "add":
            pending.remove(item)
            result = (value + item) % MODULUS
            lines.append(f"{value}+{item}={result}")
            value = result
            continue
        remaining.remove(item)
        op, a, b = item
        if op == "*":
            product = a * b % MODULUS
            lines.append(f"{a}*{b}={product}")
            pending.append(product)
        else:
            result = (value + a if op == "+" else value - a) % MODULUS
            lines.append(f"{value}{op}{a}={result}")
            value = result
    lines.append(f"{ANSWER_PREFIX}{value}")
    return "\n".join(lines)


class ToySumTask(ToyArithTask):
    """Sums of terms mod 100 whose steps may come in any order, with an exact checker."""

    name = "toy_sum"

    def __init__(self, seed: int, level: int | str, n: int) -> None:
        if level != "mixed":
            level = int(level)
            if level not in SUM_LEVELS:
                raise ValueError(f"task.level must be one of {sorted(SUM_LEVELS)} or mixed, got {level!r}")
        super().__init__(seed=seed, level="mixed", n=n)
        self.level = level

    def problems(self) -> list[Problem]:
        levels = sorted(SUM_LEVELS)
        return [
            self.problem(self.seed, levels[i % len(levels)] if self.level == "mixed" else int(self.level), i)
            for i in range(self.n)
        ]

    @staticmethod
    def problem(seed: int | str, level: int, index: int) -> Problem:
        start, terms = draw_sum(random.Random(f"toy_sum:{seed}:{level}:{index}"), level)
        return Problem(
            id=f"s{seed}-L{level}-{index:05d}",
            prompt=format_sum_prompt(start, terms),
            reference=str(sum_answer(start, terms)),
            level=level,
            meta={"start": start, "terms": terms},
        )

    def label_steps(self, problem: Problem, steps: list[str] | tuple[str, ...]) -> list[bool]:
        """Whether each step is a legal move stated right.

        The state is the running value (the start, then the result each applying step
        states), the terms not yet used and the products computed but not yet added. A step
        is right when it uses the current running value, an available term (or computed
        product, added with `+`) and states the right result mod 100 in canonical digits;
        `a*b=p` is right for a remaining product term with p = a*b mod 100. The answer line
        is right when nothing is left and it states the running value. A step that correctly
        continues from a wrong stated value is right here (ProcessBench's first-error
        convention is `process_labels`); after a step that uses no available term, or is
        malformed, every later step is wrong.
        """
        start, terms = parse_sum_prompt(problem.prompt)
        value: int | None = start
        remaining, pending = Counter(terms), Counter()
        labels, broken = [], False
        for step in steps:
            text = step.strip()
            if broken:
                labels.append(False)
                continue
            ok, broken_now, value = _move(text, value, remaining, pending)
            labels.append(ok)
            broken = broken_now
        return labels

    def first_error(self, problem: Problem, steps: list[str] | tuple[str, ...]) -> int | None:
        labels = self.label_steps(problem, steps)
        for i, ok in enumerate(labels):
            if not ok:
                return i
        _, terms = parse_sum_prompt(problem.prompt)
        expected = sum(2 if op == "*" else 1 for op, _, _ in terms) + 1
        return None if len(labels) == expected else len(labels)

    def solution(self, problem: Problem) -> str:
        start, terms = parse_sum_prompt(problem.prompt)
        return random_path(start, terms, random.Random(f"toy_sum:solution:{problem.prompt}"))


def _move(text: str, value: int | None, remaining: Counter, pending: Counter) -> tuple[bool, bool, int | None]:
    """Check one step against the state and update it in place: (right, broken, value)."""
    answer = _ANSWER.match(text)
    if answer is not None:
        done = not remaining and not pending
        return done and value is not None and _canonical(answer.group(1)) == value, not done, value
    product = _PRODUCT.match(text)
    if product is not None:
        a, b, p = (_canonical(product.group(i)) for i in (1, 2, 3))
        term = ("*", a, b)
        if a is None or b is None or remaining[term] == 0:
            return False, True, value
        remaining[term] -= 1
        if remaining[term] == 0:
            del remaining[term]
        if p is None:
            return False, True, value
        pending[p] += 1
        return p == a * b % MODULUS, False, value
    step = _APPLY.match(text)
    if step is None:
        return False, True, value
    a, op, k, r = _canonical(step.group(1)), step.group(2), _canonical(step.group(3)), _canonical(step.group(4))
    if k is None or r is None:
        return False, True, value
    term = (op, k, 0)
    if remaining[term] > 0:
        remaining[term] -= 1
        if remaining[term] == 0:
            del remaining[term]
    elif op == "+" and pending[k] > 0:
        pending[k] -= 1
        if pending[k] == 0:
            del pending[k]
    else:
        return False, True, value
    right = value is not None and a == value and r == (a + k if op == "+" else a - k) % MODULUS
    return right, False, r
