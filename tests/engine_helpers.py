"""Building the simulated world in-process for engine tests."""

from __future__ import annotations

from pathlib import Path

from infscale.budgets.budget import Budget
from infscale.experiments.build import instantiate, load, load_config, plain
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
