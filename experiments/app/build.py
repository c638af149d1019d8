"""Config -> components, the one way: every object is built from its config group's YAML.

Each YAML in `conf/<group>/` names its class with `_target_` and lists every option with its
default (the YAML is the only place a default is written); the class takes those options as
keyword arguments and validates them. `instantiate` checks the keys against the class first,
so a misspelt option is a one-line error rather than a traceback. Adding a strategy, a
backend or a task is one Python file plus one YAML: nothing here names them.
"""

from __future__ import annotations

import importlib.util
import inspect
from dataclasses import dataclass
from typing import Any

import hydra.utils
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from infscale.budgets.budget import Budget
from infscale.budgets.pool import Pool
from infscale.experiments.app import resolvers
from infscale.experiments.app.suggest import closest
from infscale.search.allocators.base import Allocator
from infscale.search.backends import Policy, RewardModel
from infscale.search.engine import Engine, Sampling
from infscale.search.strategy import Strategy
from infscale.tasks.base import Task

# Policy options that belong to the engine's sampling, not to the backend.
SAMPLING_KEYS = ("temperature", "max_step_tokens", "max_tokens")


@dataclass
class Components:
    task: Task
    policy: Policy
    reward: RewardModel | None
    strategy: Strategy
    budget: Budget
    engine: Engine
    allocator: Allocator | None = None


def plain(cfg: DictConfig | dict) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def instantiate(group: str, cfg: DictConfig | dict, *, skip: tuple[str, ...] = (), **context: Any) -> Any:
    """The object `cfg._target_` names, built from the remaining keys plus `context` (e.g. the task).

    `name` is passed only to classes that take it (elsewhere it just labels the run);
    `_target_: null` (e.g. `reward=none`) builds nothing.
    """
    params = {k: v for k, v in plain(cfg).items() if k not in skip}
    label = params.get("name") or "?"
    if "_target_" not in params:
        raise ValueError(f"{group} '{label}' names no class (_target_); was it written by an older infscale?")
    target = params.pop("_target_")
    if target is None:
        return None
    try:
        cls = hydra.utils.get_object(target)
    except Exception as error:  # hydra wraps every import failure in its own exception type
        raise ValueError(f"{group} '{label}': cannot import _target_ {target!r} ({error})") from None
    accepted = inspect.signature(cls).parameters
    takes_anything = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    if "name" not in accepted and not takes_anything:
        params.pop("name", None)
    unknown = sorted(set(params) - set(accepted)) if not takes_anything else []
    if unknown:
        options = [k for k in accepted if k != "task"]
        raise ValueError(f"{group} '{label}' has no option(s) {', '.join(unknown)}{closest(unknown[0], options)}")
    wanted = {k: v for k, v in context.items() if k in accepted or takes_anything}
    missing = [
        k for k, p in accepted.items() if p.default is inspect.Parameter.empty and k not in params and k not in wanted
    ]
    missing = [
        k for k in missing if accepted[k].kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    ]
    if missing:
        raise ValueError(f"{group} '{label}' misses option(s) {', '.join(missing)}")
    return cls(**params, **wanted)


def build_task(cfg: DictConfig) -> Task:
    return instantiate("task", cfg.task)


def build_policy(cfg: DictConfig, task: Task | None) -> Policy:
    return instantiate("policy", cfg.policy, skip=SAMPLING_KEYS, task=task)


def build_reward(cfg: DictConfig, task: Task | None) -> RewardModel | None:
    return instantiate("reward", cfg.reward, task=task)


def build_strategy(cfg: DictConfig, task: Task) -> Strategy:
    return instantiate("strategy", cfg.strategy, task=task)


POOL_KEYS = ("total_flops", "total_tokens")  # budget keys of the data-set pool, not of the per-problem Budget


def build_budget(cfg: DictConfig) -> Budget:
    return instantiate("budget", cfg.budget, skip=POOL_KEYS)


def build_pool(cfg: DictConfig) -> Pool | None:
    """The data-set pool (issue 17), or None when budget.total_flops and total_tokens are null."""
    total_flops, total_tokens = (cfg.budget[k] for k in POOL_KEYS)
    if total_flops is None and total_tokens is None:
        return None
    return Pool(total_flops, total_tokens)


def build_allocator(cfg: DictConfig) -> Allocator | None:
    """The allocator named by `allocator=<name>` (conf/allocator/<name>.yaml), None for none."""
    allocator = instantiate("allocator", cfg.allocator)
    if allocator is not None and not isinstance(allocator, Allocator):
        raise ValueError(f"allocator '{cfg.allocator.name}': {cfg.allocator._target_} is not an Allocator")
    return allocator


def build_sampling(policy_cfg: DictConfig | dict) -> Sampling:
    """The engine's sampling settings, read from the policy's config."""
    params = plain(policy_cfg)
    max_step_tokens, max_tokens = int(params["max_step_tokens"]), int(params["max_tokens"])
    if max_step_tokens < 1 or max_tokens < 1:
        raise ValueError(
            f"policy.max_step_tokens and policy.max_tokens must be >= 1, got {max_step_tokens}, {max_tokens}"
        )
    return Sampling(float(params["temperature"]), max_step_tokens, max_tokens)


def build_engine(
    cfg: DictConfig,
    task: Task,
    policy: Policy,
    reward: RewardModel | None,
    budget: Budget | None = None,
    pool: Pool | None = None,
) -> Engine:
    """The engine every entry point uses: sampling from `policy`, batching from `engine`."""
    sampling = build_sampling(cfg.policy)
    budget = budget if budget is not None else build_budget(cfg)
    if budget.max_tokens is not None and budget.max_tokens < min(sampling.max_step_tokens, sampling.max_tokens):
        raise ValueError(
            f"budget.max_tokens={budget.max_tokens} is below one step's worst-case cost "
            f"(policy.max_step_tokens={sampling.max_step_tokens})"
        )
    return Engine(
        task,
        policy,
        reward,
        budget,
        sampling,
        max_batch=cfg.engine.max_batch,
        max_concurrent=concurrency(cfg),
        seed=int(cfg.seed),
        progress=bool(cfg.progress),
        pool=pool,
        scheduler=str(cfg.engine.scheduler),
        reuse=OmegaConf.select(cfg, "compute.reuse", default="prefix"),
        batch_wait_ms=cfg.engine.batch_wait_ms,
    )


def concurrency(cfg: DictConfig) -> int:
    """Problems searched at once: `engine.max_concurrent`, fewer where that many problems of
    width n would hold more than `engine.max_n` samples in memory together (at least one;
    results do not depend on it, sampling seeds derive from problem ids)."""
    limit, n = int(cfg.engine.max_concurrent), OmegaConf.select(cfg, "strategy.n")
    ceiling = OmegaConf.select(cfg, "engine.max_n")
    if limit < 1 or not isinstance(n, int) or n < 1 or not isinstance(ceiling, int) or ceiling < 1:
        return limit  # bad values are refused elsewhere, naming their key
    return max(1, min(limit, ceiling // n))


def quiet_model_loading() -> None:
    """No "Loading weights" bar per checkpoint (a sweep of the toy ladder printed 48): a run
    has its own progress bar, and its plan line names the models."""
    if importlib.util.find_spec("transformers") is not None:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()


def build(cfg: DictConfig) -> Components:
    task = build_task(cfg)
    strategy = build_strategy(cfg, task)
    budget = build_budget(cfg)
    build_sampling(cfg.policy)  # bad sampling settings fail before any model loads
    quiet_model_loading()
    policy = build_policy(cfg, task)
    reward = build_reward(cfg, task)
    pool, allocator = build_pool(cfg), build_allocator(cfg)
    if pool is not None and allocator is None:
        raise ValueError(
            "a data-set pool (budget.total_flops / total_tokens) needs an allocator: allocator=uniform, ..."
        )
    engine = build_engine(cfg, task, policy, reward, budget, pool)
    return Components(task, policy, reward, strategy, budget, engine, allocator)


def load_config(*overrides: str, config_name: str = "config") -> DictConfig:
    """The composed run config, as `infscale-run` would see it with these overrides."""
    resolvers.register()
    if GlobalHydra.instance().is_initialized():  # inside a Hydra app (infscale-prm-eval): compose from its search path
        return compose(config_name=config_name, overrides=list(overrides))
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        return compose(config_name=config_name, overrides=list(overrides))


def load(group: str, option: str, task: Task | None = None, **options: Any) -> Any:
    """One component from its YAML with some options changed, e.g.
    `load("strategy", "beam", task=task, n=8)`, `load("task", "toy_arith", n=20)`."""
    cfg = {**plain(load_config(f"{group}={option}")[group]), **options}
    skip = {"policy": SAMPLING_KEYS, "budget": POOL_KEYS}.get(group, ())
    return instantiate(group, cfg, skip=skip, task=task)
