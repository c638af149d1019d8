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
    "simulated": "infscale.tasks.simulated:SimulatedTask",
    "toy_arith": "infscale.tasks.toy_arith:ToyArithTask",
    "gsm8k": "tasks.gsm8k:GSM8KTask",
    "math500": "tasks.math500:Math500Task",
    "math_cot_100": "tasks.math_cot_100:MathCot100Task",
}
POLICIES = {
    "simulated": "infscale.policies.simulated:SimulatedPolicy",
    "hf": "infscale.policies.hf:HFPolicy",
    "vllm": "infscale.policies.vllm:VLLMPolicy",
    "openai": "infscale.policies.openai:OpenAIPolicy",
    "replay": "infscale.policies.replay:ReplayPolicy",
}
REWARDS = {
    "none": None,
    "simulated": "infscale.rewards.simulated:SimulatedPRM",
    "hf_prm": "infscale.rewards.hf_prm:HFPRM",
    "vllm_prm": "infscale.rewards.vllm_prm:VLLMPRM",
    "oracle": "infscale.rewards.oracle:OraclePRM",
    "replay": "infscale.rewards.replay:ReplayReward",
}
STRATEGIES = {
    "greedy": "infscale.search.strategies.greedy:Greedy",
    "best_of_n": "infscale.search.strategies.best_of_n:BestOfN",
    "beam": "infscale.search.strategies.beam:BeamSearch",
    "dvts": "infscale.search.strategies.dvts:DVTS",
    "rebase": "infscale.search.strategies.rebase:Rebase",
    "mcts": "infscale.search.strategies.mcts:MCTS",
    "adaptive": "infscale.search.strategies.adaptive:AdaptiveConsistency",
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
