"""Building the simulated world in-process for engine tests."""

from __future__ import annotations

from pathlib import Path

from infscale.budgets.budget import Budget
from infscale.experiments.app.build import instantiate, load, load_config, plain
from infscale.search.engine import Engine, Sampling

MODEL = dict(
    hidden_size=512,
    num_hidden_layers=8,
    num_attention_heads=8,
    intermediate_size=1376,
    vocab_size=32000,
    hidden_act="silu",
)
PERFECT = dict(correct={"dist": "const", "value": 1.0}, wrong={"dist": "const", "value": 0.0})
NOISE = dict(correct={"dist": "uniform"}, wrong={"dist": "uniform"})


def simulated_engine(task=None, prm=None, budget=None, sampling=None, **engine_kwargs):
    task = task or load("task", "simulated", n=50)
    policy = load("policy", "simulated", model=MODEL)
    reward = load("reward", "simulated", model=MODEL, **(prm or {}))
    return Engine(task, policy, reward, budget or Budget.unlimited(), sampling or Sampling(), **engine_kwargs)


def strategy_names() -> list[str]:
    """Every strategy the package configures: one YAML each in conf/strategy/ (no list to edit)."""
    import infscale.conf

    folder = Path(infscale.conf.__file__).parent / "strategy"
    return sorted(p.stem for p in folder.glob("*.yaml"))


def strategy(name: str, task, **params):
    """The strategy `conf/strategy/<name>.yaml` configures, with `params` overriding its options."""
    return instantiate("strategy", {**plain(load_config(f"strategy={name}").strategy), **params}, task=task)


def accuracy(outcomes) -> list[float]:
    return [float(o.decision.answer == o.problem.reference) for o in outcomes]


class Recorder:
    """A backend wrapper that records, per call, the problems (by prompt) and sequences in it."""

    def __init__(self, inner, prompt_of):
        self.inner, self.prompt_of, self.calls = inner, prompt_of, []
        self.name, self.spec = inner.name, inner.spec
        for attr in ("incremental", "outcome"):
            if hasattr(inner, attr):
                setattr(self, attr, getattr(inner, attr))

    def count_tokens(self, x):
        return self.inner.count_tokens(x)

    def _record(self, requests):
        self.calls.append(([self.prompt_of(r) for r in requests], sum(getattr(r, "n", 1) for r in requests)))

    def generate(self, requests):
        self._record(requests)
        return self.inner.generate(requests)

    def score(self, requests):
        self._record(requests)
        return self.inner.score(requests)


def recorded_engine(problems: int, **engine_kwargs):
    from infscale.budgets.budget import Budget
    from infscale.search.engine import Engine, Sampling
    from tests.fake_backends import simulated_policy, simulated_prm, simulated_task

    task = simulated_task(n=problems)
    heads = {p.prompt: p.id for p in task.problems()}

    def problem_of(prompt: str) -> str:
        return next(i for head, i in heads.items() if prompt.startswith(head))

    policy = Recorder(simulated_policy(), lambda r: problem_of(r.prompt))
    reward = Recorder(simulated_prm(), lambda r: problem_of(r.prompt))
    engine = Engine(task, policy, reward, Budget.unlimited(), Sampling(), **engine_kwargs)
    return task, engine, policy, reward
