"""Building the simulated world in-process for engine tests."""

from __future__ import annotations

from infscale.budgets.budget import Budget
from infscale.policies.simulated import SimulatedPolicy
from infscale.rewards.simulated import SimulatedPRM
from infscale.search.engine import Engine, Sampling
from infscale.search.registry import STRATEGIES, lookup
from infscale.tasks.simulated import SimulatedTask

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
    task = task or SimulatedTask(n=50)
    policy = SimulatedPolicy(model=MODEL)
    reward = SimulatedPRM(model=MODEL, **(prm or {}))
    return Engine(task, policy, reward, budget or Budget(), sampling or Sampling(), **engine_kwargs)


def strategy(name: str, task, **params):
    return lookup(STRATEGIES, "strategy", name)(task=task, **params)


def accuracy(outcomes) -> list[float]:
    return [float(o.decision.answer == o.problem.reference) for o in outcomes]
