"""Name -> class tables for every config group, imported lazily.

A backend or task is named in its YAML by `backend:` (policies, rewards) or `name:`/`kind:`
(tasks, strategies); the table maps that name to "module:Class". Lazy imports keep
`import torch` / `import vllm` out of runs that do not use them. Each class builds itself
with `from_config(cfg, **context)`.
"""
from __future__ import annotations

import importlib
from typing import Any

TASKS = {
    "simulated": "tasks.simulated:SimulatedTask",
    "toy_arith": "tasks.toy_arith:ToyArithTask",
    "gsm8k": "tasks.gsm8k:GSM8KTask",
    "math500": "tasks.math500:Math500Task",
    "math_cot_100": "tasks.math_cot_100:MathCot100Task",
}
POLICIES = {
    "simulated": "policies.simulated:SimulatedPolicy",
    "hf": "policies.hf:HFPolicy",
    "vllm": "policies.vllm:VLLMPolicy",
    "openai": "policies.openai:OpenAIPolicy",
    "replay": "policies.replay:ReplayPolicy",
}
REWARDS = {
    "none": None,
    "simulated": "rewards.simulated:SimulatedPRM",
    "hf_prm": "rewards.hf_prm:HFPRM",
    "vllm_prm": "rewards.vllm_prm:VLLMPRM",
    "oracle": "rewards.oracle:OraclePRM",
    "replay": "rewards.replay:ReplayReward",
}
STRATEGIES = {
    "greedy": "search.strategies.greedy:Greedy",
    "best_of_n": "search.strategies.best_of_n:BestOfN",
    "beam": "search.strategies.beam:BeamSearch",
    "dvts": "search.strategies.dvts:DVTS",
    "rebase": "search.strategies.rebase:Rebase",
    "mcts": "search.strategies.mcts:MCTS",
    "adaptive": "search.strategies.adaptive:AdaptiveConsistency",
}


def lookup(table: dict[str, str | None], kind: str, name: str) -> Any:
    """The class registered under `name`, or a one-line error listing the known names."""
    if name not in table:
        known = ", ".join(sorted(table))
        raise ValueError(f"unknown {kind} '{name}' (known: {known})")
    target = table[name]
    if target is None:
        return None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)
