"""Config -> components: the task, policy, reward model, strategy, budget and engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from infscale.budgets.budget import Budget
from infscale.search.backends import Policy, RewardModel
from infscale.search.engine import Engine, Sampling
from infscale.search.registry import POLICIES, REWARDS, STRATEGIES, TASKS, lookup
from infscale.search.strategy import Strategy
from infscale.tasks.base import Task


@dataclass
class Components:
    task: Task
    policy: Policy
    reward: RewardModel | None
    strategy: Strategy
    budget: Budget
    engine: Engine


def plain(cfg: DictConfig | dict) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def build_task(cfg: DictConfig) -> Task:
    task_cfg = plain(cfg.task)
    kind = task_cfg.pop("kind", None) or task_cfg["name"]
    return lookup(TASKS, "task", kind).from_config(task_cfg)


def build_policy(cfg: DictConfig, task: Task) -> Policy:
    return lookup(POLICIES, "policy backend", cfg.policy.backend).from_config(plain(cfg.policy), task)


def build_reward(cfg: DictConfig, task: Task) -> RewardModel | None:
    backend = lookup(REWARDS, "reward backend", cfg.reward.backend)
    return None if backend is None else backend.from_config(plain(cfg.reward), task)


def build(cfg: DictConfig) -> Components:
    task = build_task(cfg)
    strategy = lookup(STRATEGIES, "strategy", cfg.strategy.name).from_config(plain(cfg.strategy), task)
    budget = Budget.from_config(plain(cfg.budget))
    policy_cfg = cfg.policy
    max_step_tokens, max_tokens = int(policy_cfg.max_step_tokens), int(policy_cfg.max_tokens)
    if max_step_tokens < 1 or max_tokens < 1:
        raise ValueError(
            f"policy.max_step_tokens and policy.max_tokens must be >= 1, got {max_step_tokens}, {max_tokens}"
        )
    if budget.max_tokens is not None and budget.max_tokens < min(max_step_tokens, max_tokens):
        raise ValueError(
            f"budget.max_tokens={budget.max_tokens} is below one step's worst-case cost "
            f"(policy.max_step_tokens={max_step_tokens})"
        )
    policy = build_policy(cfg, task)
    reward = build_reward(cfg, task)
    sampling = Sampling(float(policy_cfg.temperature), max_step_tokens, max_tokens)
    engine = Engine(
        task,
        policy,
        reward,
        budget,
        sampling,
        max_batch=int(cfg.engine.max_batch),
        max_concurrent=int(cfg.engine.max_concurrent),
        seed=int(cfg.seed),
        progress=bool(cfg.get("progress", False)),
    )
    return Components(task, policy, reward, strategy, budget, engine)
