"""Scripted worlds for the parity tests: one deterministic oracle, two ways to drive it.

A world decides every sampled step's text, end and answer from the text it continues
and a per-text sample ordinal, and every step's PRM score from the trajectory's text up to
that step; `seed` picks the world. The same oracle serves

- the reference ports in `tests/test_parity_*.py` (they call `World.sample`, `World.greedy`,
  `World.rollout` and `World.scores` directly), and
- infscale's strategies, through the real `Engine` with `ScriptedPolicy` / `ScriptedPRM`
  (so the engine's expansion, settling, scoring and ledger are part of what is compared).

Sampling order. The k-th sample ever drawn from a text gets ordinal k, so what a sample
contains depends only on how many samples were drawn from that same text before it. The
engine issues an `Expand` node by node, each node's samples together; a port draws its
samples in the same node-major order (a port that keeps several copies of one beam draws
the copies' steps copy by copy, beam by beam) and then places them where its control flow
puts them. Which copy receives which random draw is a labelling of independent samples,
not part of any algorithm; where the draws then go in the lists is what the tests compare.

`ties=True` rounds scores to quarters, so equal scores (and equal vote sums, exact in
binary) are common; `ties=False` gives distinct scores. `alphabet` small makes identical
step texts (duplicate beams) common.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from infscale.budgets.model_spec import ModelSpec
from infscale.search.backends import GenerationRequest, GenerationResult, RewardModel, Sample, ScoreRequest
from infscale.search.engine import Engine, Sampling
from infscale.tasks.base import Problem, TextTask, derive_seed

MODEL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, vocab_size=100)
_ANSWER = re.compile(r"ans=(\w+)")
GREEDY = "greedy"


@dataclass(frozen=True)
class Step:
    text: str
    finish: str  # "step", "end" or "length"

    @property
    def answer(self) -> str | None:
        match = _ANSWER.search(self.text)
        return match.group(1) if match else None


@dataclass
class World:
    seed: int
    ties: bool = False
    alphabet: int = 50
    cap: int = 7  # every chain ends by this many steps
    p_unanswered: float = 0.2
    p_length: float = 0.0
    answers: str = "ABC"

    def __post_init__(self) -> None:
        self._scores: dict[str, float] = {}
        self._steps: dict[tuple[str, object], Step] = {}

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(derive_seed("parity-world", self.seed, *parts))

    def score(self, text: str) -> float:
        """The PRM score of the last step of `text` (a prompt plus whole steps)."""
        if text not in self._scores:
            value = derive_seed("parity-score", self.seed, text) / (1 << 62)
            self._scores[text] = round(value * 4) / 4 if self.ties else value
        return self._scores[text]

    def scores(self, prompt: str, solution: str) -> list[float]:
        steps = ScriptedTask().split_steps(solution)
        return [self.score(prompt + "".join(steps[: k + 1])) for k in range(len(steps))]

    def step(self, text: str, ordinal: object) -> Step:
        """The step sampled from `text` with this ordinal (GREEDY for temperature 0)."""
        if (text, ordinal) not in self._steps:
            self._steps[(text, ordinal)] = self._draw(text, ordinal)
        return self._steps[(text, ordinal)]

    def _draw(self, text: str, ordinal: object) -> Step:
        rng = self._rng("step", text, ordinal)
        depth = text.count("\n")
        token = rng.randrange(self.alphabet)
        end = depth + 1 >= self.cap or rng.random() < 0.12 + 0.12 * depth
        if not end:
            return Step(f"t{token}\n", "step")
        if rng.random() < self.p_length:
            return Step(f"t{token} cut\n", "length")
        if rng.random() < self.p_unanswered:
            return Step(f"t{token} stop\n", "end")
        return Step(f"t{token} ans={rng.choice(self.answers)}\n", "end")

    def rollout(self, text: str, ordinal: object) -> Step:
        """A sample generated to the end of the solution (several steps in one text)."""
        out, step = "", self.step(text, ("end", ordinal))
        while True:
            out += step.text
            if step.finish != "step":
                return Step(out, step.finish)
            step = self.step(text + out, ("end", 0))


class Draws:
    """A port's view of the world: ordinals counted per (text, until), as the policy counts."""

    def __init__(self, world: World):
        self.world, self.counts = world, Counter()
        self.generated: Counter = Counter()  # (text continued, text generated) -> times

    def sample(self, text: str, until: str = "step") -> Step:
        ordinal = self.counts[(text, until)]
        self.counts[(text, until)] += 1
        step = self.world.step(text, ordinal) if until == "step" else self.world.rollout(text, ordinal)
        self.generated[(text, step.text)] += 1
        return step

    def greedy(self, text: str) -> Step:
        step = self.world.step(text, GREEDY)
        self.generated[(text, step.text)] += 1
        return step


class ScriptedTask(TextTask):
    name = "scripted"
    step_delimiter = "\n"

    def __init__(self, n: int = 3):
        self._problems = [Problem(id=f"p{i}", prompt=f"Problem {i}:", reference="A") for i in range(n)]

    def problems(self) -> list[Problem]:
        return self._problems

    def extract_answer(self, text: str) -> str | None:
        match = _ANSWER.search(text)
        return match.group(1) if match else None


class ScriptedPolicy:
    name = "scripted"

    def __init__(self, world: World):
        self.world, self.spec = world, ModelSpec.from_config(MODEL)
        self.counts: Counter = Counter()

    def count_tokens(self, text: str) -> int:
        return max(1, len(text.split()))

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        results = []
        for request in requests:
            samples = []
            for _ in range(request.n):
                if request.temperature == 0:
                    step = self.world.step(request.prompt, GREEDY)
                elif request.until == "step":
                    step = self.world.step(request.prompt, self.counts[(request.prompt, "step")])
                else:
                    step = self.world.rollout(request.prompt, self.counts[(request.prompt, "end")])
                if request.temperature != 0:
                    self.counts[(request.prompt, request.until)] += 1
                samples.append(Sample(step.text, step.text.count("\n"), step.finish))
            results.append(GenerationResult(samples, self.count_tokens(request.prompt), 0))
        return results


class ScriptedPRM(RewardModel):
    name, outcome = "scripted", False

    def __init__(self, world: World):
        self.world, self.spec = world, ModelSpec.from_config(MODEL)

    def count_tokens(self, request: ScoreRequest) -> int:
        return len(request.steps) + 1

    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        return [[self.world.score(r.prompt + "".join(r.steps[: k + 1])) for k in range(len(r.steps))] for r in requests]


def scripted_engine(world: World, task: ScriptedTask, max_batch: int = 256, scheduler: str = "lockstep") -> Engine:
    sampling = Sampling(temperature=1.0, max_step_tokens=4, max_tokens=10_000)
    return Engine(
        task, ScriptedPolicy(world), ScriptedPRM(world), sampling=sampling, max_batch=max_batch, scheduler=scheduler
    )


def scripted_outcomes(world: World, task: ScriptedTask, strategy) -> Iterable:
    """The strategy's outcomes on every problem of `task`, run once under each scheduler
    (search/lockstep.py, search/continuous.py): each must match the port on its own."""
    for scheduler in ("lockstep", "continuous"):
        yield from scripted_engine(world, task, scheduler=scheduler).run(task.problems(), strategy)


def generated_steps(tree) -> Counter:
    """Every generated node of a tree as (text it continued, its text) -> times."""
    prompt = tree.problem.prompt
    return Counter((prompt + node.parent.solution, node.text) for node in tree.nodes if node.parent is not None)


def sal_vote(answers: list[str | None], scores: list[float], selector: str) -> str | None:
    """search-and-learn's answer choice (src/sal/utils/math.py: find_answer_with_largest_sum,
    find_majority_answer; compute_naive_pred's stable descending sort), re-written here.
    An unanswered candidate votes as "" (its extracted answer there); chosen, it is None."""
    texts = ["" if a is None else a for a in answers]
    if selector == "best":
        order = sorted(range(len(texts)), key=lambda i: scores[i], reverse=True)
        chosen = texts[order[0]]
    else:
        sums: dict[str, float] = defaultdict(float)
        for text, score in zip(texts, scores):
            sums[text] += 1.0 if selector == "majority" else score
        top = max(sums.values())
        chosen = next(text for text, value in sums.items() if value == top)
    return chosen or None


def assert_same(outcome, steps: Counter, texts: list[str], answers: list[str | None], decision: str | None) -> None:
    """The strategy's run equals the port's: generated steps, candidates in order, answers, decision."""
    assert generated_steps(outcome.tree) == steps
    assert [c.solution for c in outcome.decision.candidates] == texts
    assert [c.answer for c in outcome.decision.candidates] == answers
    assert outcome.decision.answer == decision


def first_world_fast(worlds: Iterable) -> list:
    """A grid of worlds as two pytest cases: its first world runs in the default tier (make
    test), the rest is marked slow (make test-all runs both)."""
    worlds = list(worlds)
    return [pytest.param(worlds[:1], id="first"), pytest.param(worlds[1:], marks=pytest.mark.slow, id="rest")]
