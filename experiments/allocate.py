"""An allocated run: one data-set pool split over the problems by an allocator, in waves.

The problem states (solutions, ledgers, estimates, grants, closing reasons) are written to
`allocation.json` after every wave, so a killed run started again with the same command
resumes from the last finished wave: the same decisions, the compute of finished waves not
spent again (the wave in flight at the kill is redone and counted once). When the waves are
over, `results.jsonl` gets one record per problem in problem order, each with an
`allocation` entry (configuration, compute, the estimate behind it, why it stopped), and
`summary.json` the pool: total, spent and left.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from infscale.budgets.ledger import Ledger
from infscale.experiments.build import Components
from infscale.experiments.store import RunStore, atomic_write
from infscale.search.allocators.scheduler import Scheduler
from infscale.search.allocators.state import ProblemState
from infscale.search.engine import Outcome
from infscale.search.records import outcome_record
from infscale.tasks.base import Problem

STATE_FILE = "allocation.json"


def run_allocated(
    cfg: DictConfig, folder: Path, parts: Components, problems: list[Problem], info: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run or resume the waves; return the records and the summary's allocation fields."""
    engine, store = parts.engine, RunStore(folder)
    scheduler = Scheduler(engine, parts.strategy, parts.allocator)
    states, wave = load_states(folder / STATE_FILE, problems, engine)
    if wave == 0 and not any(s.grants for s in states):
        scheduler.check(states)
    for state in states:
        engine.pool.charge(state.ledger.flops_total, state.ledger.generated)

    closed: dict[str, str] = {}  # a closed problem's state never changes: serialised once

    def save(at_wave: int) -> None:
        parts = []
        for state in states:
            pid = state.problem.id
            text = closed.get(pid) or json.dumps(state.to_dict())
            if not state.open:
                closed[pid] = text
            parts.append(f"{json.dumps(pid)}: {text}")
        head = {"wave": at_wave, "allocator": cfg.allocator.name, "pool": engine.pool.to_dict()}
        atomic_write(folder / STATE_FILE, json.dumps(head)[:-1] + ', "problems": {' + ", ".join(parts) + "}}")

    wave = scheduler.run(states, wave, save)
    save(wave)
    records = [allocation_record(scheduler, state, parts, info) for state in states]
    atomic_write(store.results_path, "".join(json.dumps(r) + "\n" for r in records))
    extra = {
        "pool": engine.pool.to_dict(),
        "allocation": {
            "allocator": cfg.allocator.name,
            "waves": wave,
            "scheduling_s": scheduler.overhead_s,
            "reasons": dict(Counter(s.reason for s in states)),
            "samples_mean": sum(len(s.samples) for s in states) / max(len(states), 1),
        },
    }
    return records, extra


def load_states(path: Path, problems: list[Problem], engine: Any) -> tuple[list[ProblemState], int]:
    def ledger() -> Ledger:
        return Ledger(engine.policy.spec, getattr(engine.reward, "spec", None))

    if not path.exists():
        return [ProblemState.fresh(p, ledger()) for p in problems], 0
    data = json.loads(path.read_text())
    saved = data["problems"]
    if list(saved) != [p.id for p in problems]:
        raise ValueError(f"{path} holds other problems than this configuration's; use a fresh run folder")
    return [ProblemState.from_dict(p, saved[p.id], ledger()) for p in problems], data["wave"]


def allocation_record(
    scheduler: Scheduler, state: ProblemState, parts: Components, info: dict[str, Any]
) -> dict[str, Any]:
    decision = scheduler.decide(state)
    outcome = Outcome(state.problem, decision, state.ledger, state.tree, state.wall_s)
    record = outcome_record(outcome, parts.task, {**info, "n": len(state.samples)}, parts.strategy.aggregation)
    record["allocation"] = {
        "configuration": {"strategy": "best_of_n", "selector": parts.strategy.selector, "n": len(state.samples)},
        "grants": state.grants,
        "flops": state.ledger.flops_total,
        "tokens": state.ledger.generated,
        "estimate": state.estimate,
        "reason": state.reason,
    }
    return record
