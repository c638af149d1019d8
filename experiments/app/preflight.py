"""Checks before any work: config values that cannot run, model folders that are not model
folders, prompts longer than a model's context, and the line saying what the run will do.
Each failure is one `ValueError` line naming the key, file or problem."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from infscale.experiments.app.build import concurrency
from infscale.search.backends import ScoreRequest
from infscale.tasks.base import Problem

log = logging.getLogger("infscale.run")

_PATH_KEYS = ("policy.path", "policy.tokenizer", "reward.path", "reward.tokenizer")
# A model folder's small JSON files, read whole by the libraries before any weight.
_MODEL_JSON = ("config.json", "generation_config.json", "tokenizer_config.json", "special_tokens_map.json")


def check_config(cfg: DictConfig) -> None:
    """Keys left `???`, a seed or n_problems that is not an integer, a strategy.n above
    engine.max_n, a model folder without a model."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ValueError(f"{', '.join(missing)} must be set (the config leaves it ???), e.g. {missing[0]}=...")
    seed, n_problems = cfg.get("seed"), cfg.get("n_problems")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if n_problems is not None and (isinstance(n_problems, bool) or not isinstance(n_problems, int) or n_problems < 0):
        raise ValueError(f"n_problems must be a non-negative integer, got {n_problems!r}")
    check_width(cfg.strategy.get("n"), cfg.engine.get("max_n"), "strategy.n")
    for key in _PATH_KEYS:
        value = OmegaConf.select(cfg, key)
        if isinstance(value, str) and value:
            check_model_path(key, value)


def check_model_path(key: str, value: str) -> None:
    """A model folder that is missing, holds no model, or whose small JSON files do not
    parse (the model libraries would fail on them with a long traceback). A value that is
    not a local path (`namespace/name`, a hub id) is left to the backend."""
    path = Path(value).expanduser()
    if not path.exists():
        if value.startswith(("/", ".", "~")) or value.count("/") > 1:
            raise ValueError(f"{key}={value}: no such file or folder")
        return
    if not path.is_dir():
        return
    if not any(path.glob("*.json")) and not any(path.glob("*.gguf")):
        raise ValueError(f"{key}={value} is a folder without a model (no config.json or tokenizer files)")
    for name in _MODEL_JSON:
        try:
            json.loads((path / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as error:
            raise ValueError(f"{key}={value}: {path / name} is not valid JSON ({error})") from None


def check_width(n: Any, ceiling: Any, key: str) -> None:
    """Stop a width that cannot sensibly run: the engine holds all of a problem's samples in
    memory at once (and builds every request before the first call), so n = 10^9 would grind
    for hours and exhaust memory before a single problem finished."""
    if isinstance(ceiling, bool) or not isinstance(ceiling, int) or ceiling < 1:
        raise ValueError(f"engine.max_n must be a positive integer, got {ceiling!r}")
    if isinstance(n, int) and not isinstance(n, bool) and n > ceiling:
        raise ValueError(
            f"{key}={n} is above the ceiling engine.max_n={ceiling} (each problem holds its {key} samples "
            f"in memory at once); lower {key}, or raise the ceiling with engine.max_n={n} if you mean it"
        )


def select_problems(problems: list[Problem], n_problems: int | None, task_name: str) -> list[Problem]:
    if n_problems is not None and n_problems > len(problems):
        log.warning(
            "n_problems=%d but task '%s' has %d problems: running all %d", n_problems, task_name, *[len(problems)] * 2
        )
    chosen = problems if n_problems is None else problems[:n_problems]
    ids = [p.id for p in chosen]
    if len(set(ids)) != len(ids):
        raise ValueError(f"task '{task_name}' has duplicate problem ids")
    return chosen


def context_of(backend: Any) -> int | None:
    """The longest input `backend` takes, in tokens, where it says (None: unknown)."""
    for name in ("max_model_len", "max_length", "context_length"):
        value = getattr(backend, name, None)
        if isinstance(value, int) and value > 0:
            return value
    config = getattr(getattr(backend, "model", None), "config", None)
    value = getattr(config, "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else None


def check_prompts(problems: list[Problem], policy: Any, reward: Any) -> None:
    """Stop before any work if a prompt does not fit the policy's or the PRM's context."""
    for role, backend in (("policy", policy), ("reward", reward)):
        context = context_of(backend) if backend is not None else None
        if context is None:
            continue
        for problem in problems:
            if role == "policy":
                tokens = backend.count_tokens(problem.prompt)
            else:
                tokens = backend.count_tokens(ScoreRequest(problem.prompt, ()))
            if tokens is not None and tokens >= context:
                raise ValueError(
                    f"problem {problem.id}: its prompt is {tokens} tokens, at or over {role} "
                    f"'{backend.name}''s context of {context}; drop it (n_problems, task.path) or use a longer-context model"
                )


def plan_line(cfg: DictConfig, total: int, done: int, folder: Path, allocation: str | None = None) -> str:
    """What the run will do, said before it starts: the width it will use (the allocator's,
    `allocation`, where one decides it) and the caps that bound it."""
    n, max_tokens = int(cfg.strategy.n), int(cfg.policy.max_tokens)
    todo = total - done
    if allocation is not None:
        return (
            f"{total} problems ({done} already finished, {todo} to run) x {allocation} x up to {max_tokens} "
            f"tokens each, from one pool ({pool_text(cfg)}); run folder {folder}"
        )
    samples, caps = n, []
    max_samples = OmegaConf.select(cfg, "budget.max_samples")
    if isinstance(max_samples, int) and max_samples < n:
        samples = max_samples
        caps.append(f"budget.max_samples={max_samples} samples")
    per_problem = samples * max_tokens
    cap = OmegaConf.select(cfg, "budget.max_tokens")
    if isinstance(cap, int) and cap < per_problem:
        per_problem = cap
        caps.append(f"budget.max_tokens={cap} tokens")
    max_flops = OmegaConf.select(cfg, "budget.max_flops")
    if max_flops is not None:
        caps.append(f"budget.max_flops={float(max_flops):.3g} FLOPs")
    capped = f" (at most {', '.join(caps)} per problem)" if caps else ""
    at_once = concurrency(cfg)
    throttled = (
        f"; {at_once} problems at once (engine.max_n={cfg.engine.max_n} samples in memory / strategy.n)"
        if at_once < int(cfg.engine.max_concurrent) and at_once < todo
        else ""
    )
    return (
        f"{total} problems ({done} already finished, {todo} to run) x strategy.n={n}{capped} x up to "
        f"{max_tokens} tokens: at most {per_problem * todo:.3g} generated tokens{throttled}; run folder {folder}"
    )


def pool_text(cfg: DictConfig) -> str:
    caps = {key: OmegaConf.select(cfg, f"budget.{key}") for key in ("total_flops", "total_tokens")}
    return ", ".join(f"budget.{key}={float(value):.3g}" for key, value in caps.items() if value is not None)
