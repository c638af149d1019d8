"""PRM training data from a policy's own solutions: pool -> MC labels, judge labels -> consensus.

Each stage writes a ProcessBench-format JSONL (`label` is the stage's first error) whose
lines carry their provenance and, where the task can check steps, the ground truth
(`gt_label`), and the stage's agreement with the truth goes into `synth_report.json`. A
stage whose file exists is read back instead of recomputed, so an interrupted synthesis
resumes; the files depend only on the configuration (every sample is seeded).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infscale.experiments.app.build import load
from infscale.experiments.app.store import atomic_write
from infscale.rewards.eval import truth
from infscale.rewards.eval.data import item_record, write_items
from infscale.rewards.synth.agreement import agreement
from infscale.rewards.synth.judge import CheckerJudge
from infscale.rewards.synth.mc import MCEstimation, mc_labels
from infscale.search.engine import Engine
from infscale.tasks.base import Problem, Task


@dataclass(frozen=True)
class SynthSettings:
    samples: int = 8  # solutions per problem in the pool
    k: int = 8  # MC completions per step prefix
    threshold: float = 0.0  # hard label: share of right completions > threshold
    miss_rate: float = 0.1  # judge: a wrong step passed
    false_alarm_rate: float = 0.05  # judge: a right step flagged
    seed: int = 0


def sample_pool(engine: Engine, problems: Sequence[Problem], settings: SynthSettings) -> list[dict[str, Any]]:
    """`samples` full solutions per problem; those that end with an answer line are kept."""
    task, records = engine.task, []
    strategy = load("strategy", "best_of_n", task=task, n=settings.samples, selector="majority")
    for outcome in engine.run(problems, strategy):
        problem = outcome.problem
        for j, node in enumerate(outcome.decision.candidates):
            steps = task.split_steps(node.solution)
            if node.finish != "end" or not steps:
                continue
            labels = truth.process_labels(task, problem, steps)
            gt = None if labels is None else truth.first_error(labels)
            subset = task.name if problem.level is None else f"{task.name}-L{problem.level}"
            records.append(
                item_record(
                    f"{problem.id}/{j}",
                    subset,
                    problem.prompt,
                    steps,
                    gt,
                    task.is_correct(node.answer, problem.reference),
                    problem_id=problem.id,
                    gt_label=gt,
                    provenance={
                        "stage": "pool",
                        "policy": engine.policy.name,
                        "seed": engine.seed,
                        "samples": settings.samples,
                    },
                )
            )
    return records


def mc_stage(
    engine: Engine, problems: Sequence[Problem], pool: Sequence[dict[str, Any]], settings: SynthSettings
) -> list[dict[str, Any]]:
    """MC labels for every pool solution, with `engine.policy` as the completer."""
    by_problem: dict[str, list[dict[str, Any]]] = {}
    for record in pool:
        by_problem.setdefault(record["problem_id"], []).append(record)
    wanted = [p for p in problems if p.id in by_problem]
    strategy = MCEstimation(
        task=engine.task,
        k=settings.k,
        threshold=settings.threshold,
        solutions={pid: [tuple(r["steps"]) for r in rs] for pid, rs in by_problem.items()},
    )
    out = []
    for outcome in engine.run(wanted, strategy):
        for record, end in zip(by_problem[outcome.problem.id], outcome.decision.candidates, strict=True):
            labels = mc_labels(end, outcome.problem, engine.task, settings.threshold)
            out.append(
                {
                    **record,
                    "label": labels.first_error,
                    "mc_soft": list(labels.soft),
                    "mc_hard": list(labels.hard),
                    "provenance": {
                        "stage": "mc",
                        "completer": engine.policy.name,
                        "k": settings.k,
                        "threshold": settings.threshold,
                        "seed": engine.seed,
                        "pool": record["provenance"],
                    },
                }
            )
    return out


def judge_stage(
    task: Task, problems: Sequence[Problem], pool: Sequence[dict[str, Any]], settings: SynthSettings
) -> list[dict[str, Any]]:
    judge = CheckerJudge(settings.miss_rate, settings.false_alarm_rate, settings.seed)
    index = {p.id: p for p in problems}
    return [
        {
            **record,
            "label": judge.first_error(task, index[record["problem_id"]], record["steps"], record["id"]),
            "provenance": {"stage": "judge", "judge": "checker", **asdict(judge), "pool": record["provenance"]},
        }
        for record in pool
    ]


def consensus_stage(mc: Sequence[dict[str, Any]], judged: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep a solution only when MC and the judge agree on its first error (or on none)."""
    judge_label = {r["id"]: r["label"] for r in judged}
    missing = [r["id"] for r in mc if r["id"] not in judge_label]
    if missing:
        raise ValueError(f"consensus: {len(missing)} MC-labelled solutions have no judge label (first: {missing[0]})")
    return [
        {**r, "provenance": {"stage": "consensus", "mc": r["provenance"], "judge_label": judge_label[r["id"]]}}
        for r in mc
        if r["label"] == judge_label[r["id"]]
    ]


def synthesize(
    folder: Path,
    task: Task,
    problems: Sequence[Problem],
    pool_engine: Engine,
    completer: Engine,
    settings: SynthSettings,
) -> dict[str, Any]:
    """Run (or resume) every stage into `folder`; returns and writes the agreement report."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _check_settings(
        folder / "settings.json",
        {
            **asdict(settings),
            "problems": [p.id for p in problems],
            "policy": pool_engine.policy.name,
            "completer": completer.policy.name,
        },
    )
    pool = _stage(folder / "pool.jsonl", lambda: sample_pool(pool_engine, problems, settings))
    if not pool:
        raise ValueError("the policy produced no finished solutions to label")
    mc = _stage(folder / "mc.jsonl", lambda: mc_stage(completer, problems, pool, settings))
    judged = _stage(folder / "judge.jsonl", lambda: judge_stage(task, problems, pool, settings))
    kept = _stage(folder / "consensus.jsonl", lambda: consensus_stage(mc, judged))
    report = {
        "settings": asdict(settings),
        "n_pool": len(pool),
        "pool_answer_correct": sum(bool(r["final_answer_correct"]) for r in pool) / len(pool),
        "pool_with_error": _share(r.get("gt_label") not in (None, -1) for r in pool) if "label" in pool[0] else None,
        "kept_share": len(kept) / len(mc),
        "agreement": {
            name: agreement(records) for name, records in (("mc", mc), ("judge", judged), ("consensus", kept))
        },
    }
    atomic_write(folder / "synth_report.json", json.dumps(report, indent=2))
    return report


def _share(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags)


def _check_settings(path: Path, settings: dict[str, Any]) -> None:
    """A folder holds one synthesis: resuming with other settings would mix two."""
    if path.exists():
        if json.loads(path.read_text()) != settings:
            raise ValueError(f"{path.parent} holds a synthesis with other settings; use a fresh folder")
    else:
        atomic_write(path, json.dumps(settings))


def _stage(path: Path, compute) -> list[dict[str, Any]]:
    if path.exists():
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    records = compute()
    write_items(path, records)
    return records
