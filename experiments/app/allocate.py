"""An allocated run: one data-set pool split over the problems by an allocator, in waves.

The problem states (solutions, ledgers, estimates, grants, closing reasons) are journaled in
`allocation.jsonl`: a header line (allocator, problem ids), then after every wave one line
holding what changed in it (each changed problem's head and the samples it drew; a problem
left alone is not written again), appended in one write; when waves are much faster than
saving them (nearly free backends), a save waits until enough waves have passed (SAVE_SPACING). Replayed, the journal is every
problem's state at the last finished wave, so a killed run started again with the same
command resumes from there (a line torn by the kill is cut off and its wave redone): the same decisions, the compute of finished waves not
spent again (the wave in flight at the kill is redone and counted once). When the waves are
over, `results.jsonl` gets one record per problem in problem order, each with an
`allocation` entry (configuration, compute, the estimate behind it, why it stopped), and
`summary.json` the pool: total, spent and left.
"""

from __future__ import annotations

import base64
import gc
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from omegaconf import DictConfig

from infscale.budgets.ledger import Ledger
from infscale.experiments.app.build import Components
from infscale.experiments.app.preflight import plan_line
from infscale.experiments.app.store import RunStore, atomic_write
from infscale.search.allocators.state import SAMPLE_FIELDS, ProblemState
from infscale.search.allocators.waves import WaveRunner
from infscale.search.engine import Outcome
from infscale.search.records import outcome_record
from infscale.tasks.base import Problem

log = logging.getLogger("infscale.run")

# A wave is saved unless less than SAVE_SPACING x the last save's duration has passed since it
# ended: saving stays under 1 / (1 + SAVE_SPACING) of the wall (about 2.4%), and a kill loses
# at most that much drawing (redrawn identically on resume). With a real model every wave is saved.
SAVE_SPACING = 40
SCORES = SAMPLE_FIELDS.index("step_scores")  # a saved sample's step scores: packed per line (pack_scores)
STATE_FILE = "allocation.jsonl"  # a journal: a header line, then one line per wave (what changed)


def run_allocated(
    cfg: DictConfig, folder: Path, parts: Components, problems: list[Problem], info: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run or resume the waves; return the records and the summary's allocation fields."""
    engine, store = parts.engine, RunStore(folder)
    runner = WaveRunner(engine, parts.strategy, parts.allocator)
    path = folder / STATE_FILE
    states, wave = load_states(path, problems, engine, cfg.allocator.name)
    if wave == 0 and not any(s.grants for s in states):
        runner.check(states)
    closed = sum(not s.open for s in states)
    log.info(plan_line(cfg, len(states), closed, folder, allocation=parts.allocator.plan(runner, states)))
    for state in states:
        engine.pool.charge(state.ledger.flops_total, state.ledger.generated)

    saving = [0.0]  # seconds spent serialising and writing the state (part of the scheduling overhead)
    last = [time.perf_counter(), 0.0]  # when the last save ended, how long it took

    def save(at_wave: int, final: bool = False) -> None:
        started = time.perf_counter()
        if not final and started - last[0] < SAVE_SPACING * last[1]:
            return  # too soon: the next save carries these changes too
        enabled = gc.isenabled()
        gc.disable()  # the rows below are short-lived and acyclic: no cyclic collection over every tree
        try:
            changed = {}
            for state in states:
                entry = state.changes()
                if entry is not None:
                    changed[state.problem.id] = entry
            scores = pack_scores(changed.values())
            line = orjson.dumps(
                {"wave": at_wave, "pool": engine.pool.to_dict(), "problems": changed, "scores": scores},
                option=orjson.OPT_SERIALIZE_NUMPY,
            )
        finally:
            if enabled:
                gc.enable()
        append_line(path, line)
        ended = time.perf_counter()
        saving[0] += ended - started
        last[:] = [ended, ended - started]

    wave = runner.run(states, wave, save)
    save(wave, final=True)
    records = [allocation_record(runner, state, parts, info) for state in states]
    atomic_write(store.results_path, "".join(json.dumps(r) + "\n" for r in records))
    extra = {
        "pool": engine.pool.to_dict(),
        "allocation": {
            "allocator": cfg.allocator.name,
            "waves": wave,
            "scheduling_s": runner.overhead_s,  # the allocator's decisions
            "saving_s": saving[0],  # serialising and writing allocation.jsonl
            "reasons": dict(Counter(s.reason for s in states)),
            "samples_mean": sum(len(s.samples) for s in states) / max(len(states), 1),
        },
    }
    return records, extra


def append_line(path: Path, line: bytes) -> None:
    """One journal entry, appended in one write; a kill mid-write leaves a torn last line,
    which `read_journal` drops (that wave is drawn again)."""
    with path.open("ab") as file:
        file.write(line + b"\n")


def pack_scores(entries: Iterable[dict[str, Any]]) -> str:
    """Every new sample's step scores, in order, as one base64 block of little-endian float64
    (exact, and ten times cheaper to write than JSON's float text); each sample keeps its
    count of scores in their place (None stays None)."""
    flat: list[float] = []
    for entry in entries:
        for row in entry["new"]:
            scores = row[SCORES]
            if scores is not None:
                flat.extend(scores)
                row[SCORES] = len(scores)
    return base64.b64encode(np.asarray(flat, dtype="<f8").tobytes()).decode("ascii")


def unpack_scores(entries: Iterable[dict[str, Any]], packed: str) -> None:
    flat, at = np.frombuffer(base64.b64decode(packed), dtype="<f8").tolist(), 0
    for entry in entries:
        for row in entry["new"]:
            count = row[SCORES]
            if count is not None:
                row[SCORES], at = flat[at : at + count], at + count


def read_journal(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The journal's header and its complete entries; a torn last line is cut off the file."""
    raw = path.read_bytes()
    entries, good = [], 0
    for line in raw.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            entries.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            break
        good += len(line)
    if good < len(raw):
        with path.open("r+b") as file:
            file.truncate(good)
    if not entries:
        return {}, []
    return entries[0], entries[1:]


def read_states(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The journal replayed: its header and every problem's latest state (the form
    `ProblemState.from_dict` reads: the latest head, the samples of all entries in order)."""
    header, entries = read_journal(path)
    states: dict[str, dict[str, Any]] = {pid: {"samples": []} for pid in header.get("problems", [])}
    for entry in entries:
        if "scores" in entry:  # (journals written before the scores were packed hold them inline)
            unpack_scores(entry["problems"].values(), entry["scores"])
        for pid, change in entry["problems"].items():
            samples = states[pid]["samples"] + change.pop("new")
            states[pid] = {**change, "samples": samples}
    return {**header, "wave": entries[-1]["wave"] if entries else 0}, states


def load_states(path: Path, problems: list[Problem], engine: Any, allocator: str) -> tuple[list[ProblemState], int]:
    def ledger() -> Ledger:
        return Ledger(engine.policy.spec, getattr(engine.reward, "spec", None))

    ids = [p.id for p in problems]
    header, saved = read_states(path) if path.exists() else ({}, {})
    if not header:  # no journal, or its header was torn: nothing was drawn yet
        atomic_write(path, json.dumps({"allocator": allocator, "problems": ids, "sample_fields": SAMPLE_FIELDS}) + "\n")
        return [ProblemState.fresh(p, ledger()) for p in problems], 0
    if header["problems"] != ids:
        raise ValueError(f"{path} holds other problems than this configuration's; use a fresh run folder")
    if header["wave"] == 0 and not any(s["samples"] for s in saved.values()):
        return [ProblemState.fresh(p, ledger()) for p in problems], 0
    return [ProblemState.from_dict(p, saved[p.id], ledger()) for p in problems], header["wave"]


def allocation_record(
    runner: WaveRunner, state: ProblemState, parts: Components, info: dict[str, Any]
) -> dict[str, Any]:
    decision = runner.decide(state)
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
