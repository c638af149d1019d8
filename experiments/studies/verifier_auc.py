"""Every verifier on one axis: its ProcessBench-style step AUC on toy_sum.

The set: each ladder policy's own solutions (one greedy and `samples` at its preset
temperature) to held-out toy_sum problems, every step labelled by the exact checker
(`toy_processbench.toy_records`). A verifier's step AUC is `stats.auc` of its scores of
right steps against first-error steps, on ProcessBench's domain (steps after the first error
carry no label), per policy (the verifier's quality on the solutions it will judge) and
pooled. Intervals resample problems, a problem's steps staying together, with the same
draws for every verifier so that verifiers are compared paired.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infscale.experiments.app.store import atomic_write
from infscale.experiments.stats import auc, problem_draws
from infscale.experiments.studies.toy_processbench import toy_records, write_by_subset
from infscale.rewards.eval.data import Item, load_items
from infscale.rewards.eval.scoring import model_scores
from infscale.rewards.synth.agreement import step_labels
from infscale.search.backends import RewardModel

POOLED = "pooled"


@dataclass(frozen=True)
class StepScores:
    """One verifier's scores of the set's labelled steps: score, label, problem and policy of each."""

    values: np.ndarray
    right: np.ndarray
    problem: np.ndarray  # index into the set's problem list
    policy: np.ndarray

    def groups(self, policy: str = POOLED) -> list[np.ndarray]:
        """Per problem of the set, the indices of its steps (of `policy`'s solutions; all for POOLED)."""
        keep = np.ones(len(self.values), dtype=bool) if policy == POOLED else self.policy == policy
        return [np.flatnonzero(keep & (self.problem == p)) for p in range(int(self.problem.max()) + 1)]

    def auc(self, index: np.ndarray) -> float:
        """Step AUC of the steps at `index` (repeats allowed: a bootstrap draw); NaN without both kinds."""
        values, right = self.values[index], self.right[index]
        if right.all() or not right.any():
            return float("nan")
        return auc(values[right], values[~right])


def auc_set(folder: Path, policy_dirs: Sequence[Path], problems: int, samples: int, task_seed: int) -> list[Item]:
    """The labelled solutions, written once to `folder` (a rerun reads them back)."""
    done = folder / "done.json"
    wanted = {"problems": problems, "samples": samples, "task_seed": task_seed}
    wanted["policies"] = [Path(p).name for p in policy_dirs]
    if not done.exists():
        records = toy_records(list(policy_dirs), problems, samples, task_seed=task_seed, task="toy_sum")
        atomic_write(done, json.dumps({**wanted, **write_by_subset(folder, records)}))
    settings = json.loads(done.read_text())
    if {k: settings.get(k) for k in wanted} != wanted:
        raise ValueError(f"{folder} holds an AUC set of other settings ({settings}); move it away or pass the same")
    return load_items(sorted(str(p) for p in folder.glob("*.jsonl")))


def step_scores(items: Sequence[Item], scores: Sequence[Sequence[float]]) -> StepScores:
    """The steps up to and including each solution's first error, with their labels."""
    problem_ids = sorted({item.extra["problem_id"] for item in items})
    index = {pid: i for i, pid in enumerate(problem_ids)}
    values, right, problem, policy = [], [], [], []
    for item, row in zip(items, scores, strict=True):
        labels = step_labels(item.label, len(row))
        kept = len(row) if item.label == -1 else item.label + 1
        values += list(row[:kept])
        right += labels[:kept]
        problem += [index[item.extra["problem_id"]]] * kept
        policy += [item.id.split(":", 1)[0]] * kept
    return StepScores(np.array(values, float), np.array(right, bool), np.array(problem, int), np.array(policy))


def scored(folder: Path, name: str, items: Sequence[Item], reward: RewardModel) -> StepScores:
    """`reward`'s step scores of the set, cached in `folder/<name>.json`."""
    path = folder / f"{name}.json"
    if path.exists():
        scores = json.loads(path.read_text())
    else:
        scores = model_scores(items, reward, batch_size=256)
        atomic_write(path, json.dumps(scores))
    return step_scores(items, scores)


def auc_table(
    verifiers: dict[str, StepScores], policies: Sequence[str], resamples: int, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """verifier -> policy (and POOLED) -> {"auc", "replicates"}: the AUC and its bootstrap
    replicates, the same problem draws for every verifier and policy."""
    first = next(iter(verifiers.values()))
    draws = problem_draws(int(first.problem.max()) + 1, resamples, seed)
    table: dict[str, dict[str, Any]] = {}
    for name, steps in verifiers.items():
        table[name] = {}
        for policy in (*policies, POOLED):
            groups = steps.groups(policy)
            replicates = [steps.auc(np.concatenate([groups[p] for p in draw])) for draw in draws]
            table[name][policy] = {"auc": steps.auc(np.concatenate(groups)), "replicates": np.array(replicates)}
    return table


def cached_table(
    path: Path, verifiers: dict[str, StepScores], policies: Sequence[str], resamples: int
) -> dict[str, dict[str, Any]]:
    """`auc_table`, kept in `path` and reused while its verifiers, policies and resamples are
    the same (the bootstrap is minutes on a busy 2-core machine)."""
    key = {"verifiers": sorted(verifiers), "policies": list(policies), "resamples": resamples}
    if path.exists():
        saved = json.loads(path.read_text())
        if saved["key"] == key:
            return {
                v: {p: {"auc": x["auc"], "replicates": np.array(x["replicates"], dtype=float)} for p, x in d.items()}
                for v, d in saved["table"].items()
            }
    table = auc_table(verifiers, policies, resamples)
    plain = {
        v: {p: {"auc": x["auc"], "replicates": x["replicates"].tolist()} for p, x in d.items()}
        for v, d in table.items()
    }
    atomic_write(path, json.dumps({"key": key, "table": plain}))
    return table
