"""`infscale-collect <multirun dir>`: every job of a sweep in one table.

    infscale-collect multirun/pareto_sim            # -> collected.csv/json, curves.csv/json, levels.csv/json

One row per finished job (`collected.*`): the fixed identity columns, every other config key
that varies across the jobs (dotted names), the job's accuracy with its 95% bootstrap CI,
mean costs and provenance. Each uncapped best-of-N job also yields subsampled curves for
every smaller width and every selector its samples allow, plus pass@n coverage
(`curves.*`, see experiments/analysis/curves.py). `levels.*` holds the same points split by problem
difficulty: the task's `level` where it has one, else quintiles of the policy's own
single-sample accuracy per problem (Snell et al.), measured on its widest best-of-N job.

Jobs that failed, were killed, or have zero problems are reported one line each and left
out; so is a job that repeats another's configuration and seed on fewer problems (a
`save_trees=true` rerun: experiments/analysis/reruns.py). When jobs span several tasks, one
task is collected (the most common, or `--task`).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from infscale.experiments.analysis import curves, outcomes, reruns, shards
from infscale.experiments.analysis.difficulty import difficulty_of, level_rows
from infscale.experiments.app import errors, resolvers
from infscale.experiments.app.build import build_task
from infscale.experiments.app.store import atomic_write, corrupt_line, provenance_of, running

IDENTITY = ("task.name", "policy.name", "reward.name", "strategy.name", "strategy.selector", "strategy.n", "seed")
METRICS = (
    "accuracy",
    "accuracy_lo",
    "accuracy_hi",
    "flops_total",
    "flops_paper",
    "tokens_generated",
    "wall_s",
    "n_problems",
)
NOT_COMPARED = ("progress", "save_trees")


@dataclass
class Job:
    folder: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    records: list[dict[str, Any]] = field(repr=False)

    @property
    def task(self) -> str:
        return str(self.config["task"]["name"])


@dataclass
class Collection:
    jobs: list[Job]
    rows: list[dict[str, Any]]
    curves: list[dict[str, Any]]
    levels: list[dict[str, Any]]
    messages: list[str]
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)


def find_job_folders(root: Path) -> list[Path]:
    """Folders holding a run: a Hydra job folder (`.hydra/`) or a run store (results/summary)."""
    marks = ("results.jsonl", "summary.json", ".hydra/config.yaml")
    found = set()
    for mark in marks:
        for path in root.rglob(mark):
            folder = path.parent.parent if mark.startswith(".hydra") else path.parent
            found.add(folder)
    return sorted(found)


def load_job(folder: Path, root: Path) -> Job | str:
    """A finished job, or a one-line reason why this folder is not one."""
    where = _relative(folder, root)
    summary_path, results_path = folder / "summary.json", folder / "results.jsonl"
    if not summary_path.exists():
        config = _config(folder)
        if config is not None and config.get("n_problems") == 0:
            return f"{where}: zero problems (n_problems=0); nothing to collect"
        holder = running(folder)
        if holder is not None:
            return f"{where}: running ({holder}); collect again when it has finished"
        if results_path.exists() and (number := corrupt_line(results_path)) is not None:
            return f"{where}: {_corrupt(number, results_path)}"
        why = _failure(folder)
        if not results_path.exists():
            return f"{where}: failed before its first problem (no results.jsonl): {why}"
        lines = sum(1 for line in results_path.open("rb") if line.endswith(b"\n"))
        if lines == 0:
            return f"{where}: failed or killed before its first problem finished (empty results.jsonl): {why}"
        return (
            f"{where}: unfinished ({lines} problems in results.jsonl, no summary.json): {why}; "
            f"rerun the same command to resume it"
        )
    try:
        summary = json.loads(summary_path.read_text())
        records = [json.loads(line) for line in results_path.read_text().splitlines()]
    except (OSError, json.JSONDecodeError) as error:
        if results_path.exists() and (number := corrupt_line(results_path)) is not None:
            return f"{where}: {_corrupt(number, results_path)}"
        return f"{where}: unreadable ({error.__class__.__name__}: {error})"
    if len(records) != summary.get("n_problems"):
        return f"{where}: summary.json says {summary.get('n_problems')} problems, results.jsonl holds {len(records)}"
    config = provenance_of(summary).get("config") or _config(folder)
    if config is None:
        return f"{where}: no config (neither summary.json nor .hydra/config.yaml has one)"
    return Job(folder, config, summary, records)


def _corrupt(number: int, path: Path) -> str:
    return f"corrupt line {number} of {path}; delete that line and rerun the job to recompute its problem"


def _config(folder: Path) -> dict[str, Any] | None:
    path = folder / ".hydra" / "config.yaml"
    if not path.exists():
        return None
    resolvers.register()
    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception:  # an unresolvable interpolation: still usable unresolved
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False)


def _failure(folder: Path) -> str:
    """Why a job stopped: the last error its log file (<job>.log) holds, else what is known."""
    logs = sorted(folder.glob("*.log"))
    if not logs:
        return "no log file, killed before it started logging"
    reason = None
    for log in logs:
        with log.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if "][ERROR] - " in line:
                    reason = line.split("][ERROR] - ", 1)[1].strip()
    if reason is None:
        return f"no error in {logs[0].name}, so it was killed (SIGKILL, out of memory, a time limit)"
    return reason


def _relative(folder: Path, root: Path) -> str:
    try:
        return str(folder.relative_to(root)) or "."
    except ValueError:
        return str(folder)


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = json.dumps(value) if isinstance(value, list) else value
    return flat


def varying_keys(configs: list[dict[str, Any]]) -> list[str]:
    """Dotted config keys whose values differ between jobs (missing counts as null)."""
    flats = [flatten(c) for c in configs]
    keys = sorted({k for f in flats for k in f} - set(IDENTITY))
    return [
        k
        for k in keys
        if not k.startswith(("hydra.", *NOT_COMPARED))
        and len({json.dumps(f.get(k), sort_keys=True) for f in flats}) > 1
    ]


def job_row(job: Job, columns: list[str], root: Path) -> dict[str, Any]:
    flat = flatten(job.config)
    row = {k: flat.get(k) for k in (*IDENTITY, *columns)}
    row.update({k: job.summary.get(k) for k in METRICS})
    row.update(
        {
            "source": "run",
            "job": _relative(job.folder, root),
            "git_commit": provenance_of(job.summary).get("git_commit"),
            "finished_at": provenance_of(job.summary).get("finished_at"),
        }
    )
    return row


def _same_point(row: dict[str, Any], columns: list[str]) -> tuple:
    return tuple(json.dumps(row.get(k), sort_keys=True) for k in (*IDENTITY, *columns))


def subsampled(
    jobs: list[Job], rows: list[dict[str, Any]], columns: list[str], draws: int, messages: list[str]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """Curve rows from every uncapped best-of-N job, and each policy's per-problem pass@1."""
    real = {_same_point(r, columns) for r in rows}
    out, pass1, widest = [], {}, {}
    for job, row in _widest_sampling_jobs(jobs, rows, columns):
        why = curves.eligible(job.records, job.config.get("budget"))
        if why is not None:
            messages.append(f"{row['job']}: no subsampled curve ({why})")
            continue
        try:
            problems = curves.prepare(job.records, build_task(OmegaConf.create(job.config)))
        except ValueError as error:
            messages.append(f"{row['job']}: no subsampled curve (its task cannot be built: {error})")
            continue
        scored = all(p.score is not None for p in problems)
        selectors = ["majority", *(curves.SCORED_SELECTORS if scored else ()), curves.COVERAGE]
        # A run with compute.reuse prefills the prompt once per expansion; an older one per call.
        max_batch = None if "compute" in job.config else int(job.config.get("engine", {}).get("max_batch", 256))
        n_max = int(row["strategy.n"])
        for point in curves.subsample(
            problems, curves.powers_of_two(n_max), selectors, max_batch, draws, seed=int(row["seed"])
        ):
            derived = {**row, "strategy.selector": point.selector, "strategy.n": point.n, **point.summary()}
            if point.selector != curves.COVERAGE and _same_point(derived, columns) in real:
                continue
            derived.update(source=f"subsample of {row['job']}", draws=1 if point.n == n_max else draws)
            derived["_per_problem"] = (
                point.correct,
                {
                    "flops_total": point.flops_total,
                    "flops_paper": point.flops_paper,
                    "tokens_generated": point.tokens_generated,
                },
            )
            out.append(derived)
        policy = row["policy.name"]
        if n_max > widest.get(policy, 0):
            widest[policy] = n_max
            pass1[policy] = {p.problem_id: p.single_sample_accuracy() for p in problems}
    return out, pass1


def _widest_sampling_jobs(
    jobs: list[Job], rows: list[dict[str, Any]], columns: list[str]
) -> list[tuple[Job, dict[str, Any]]]:
    """Per best-of-N curve (identity without width and selector), its widest job; a scored
    one (its samples allow every selector) before a majority one of the same width."""

    def rank(row: dict[str, Any]) -> tuple[int, bool]:
        return int(row["strategy.n"]), row["strategy.selector"] != "majority"

    best: dict[tuple, tuple[Job, dict[str, Any]]] = {}
    for job, row in zip(jobs, rows):
        if row["strategy.name"] != "best_of_n":
            continue
        key = _same_point({**row, "strategy.n": None, "strategy.selector": None}, columns)
        if key not in best or rank(row) > rank(best[key][1]):
            best[key] = (job, row)
    return list(best.values())


def collect(root: Path, task: str | None = None, draws: int = 64) -> Collection:
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"no such sweep folder: {root}")
    messages, jobs, unfinished = [], [], []
    for folder in find_job_folders(root):
        loaded = load_job(folder, root)
        (messages.append if isinstance(loaded, str) else jobs.append)(loaded)
        if isinstance(loaded, str):
            unfinished.append(folder)
    if not jobs:
        raise ValueError(
            f"no finished job under {root}" + (f" ({len(messages)} unfinished or failed)" if messages else "")
        )
    jobs = shards.merge(jobs, unfinished, root, messages)
    jobs = _one_task(jobs, task, messages)
    jobs = reruns.drop_partial_reruns(jobs, root, messages)
    columns = varying_keys([j.config for j in jobs])
    rows = [job_row(j, columns, root) for j in jobs]
    curve_rows, pass1 = subsampled(jobs, rows, columns, draws, messages)
    labels = difficulty_of(jobs, pass1, messages)
    per_problem = [
        (
            [r["problem_id"] for r in j.records],
            [float(r["correct"]) for r in j.records],
            {
                "flops_total": [r["flops"]["total"] for r in j.records],
                "flops_paper": [r["flops"]["paper"] for r in j.records],
                "tokens_generated": [r["tokens"]["generated"] for r in j.records],
            },
        )
        for j in jobs
    ]
    per_problem += [(per_problem[_index_of(rows, c)][0], *c["_per_problem"]) for c in curve_rows]
    table = {}
    for row, (ids, correct, costs) in zip(rows + curve_rows, per_problem):
        row["point"] = outcomes.point_id(row)
        label = labels.get(row["policy.name"], {})
        table[row["point"]] = outcomes.entry(row["seed"], ids, correct, costs, [label.get(pid) for pid in ids])
    levels = level_rows(rows + curve_rows, per_problem, labels, METRICS)
    for c in curve_rows:
        del c["_per_problem"]
    return Collection(jobs, rows, curve_rows, levels, messages, table)


def _index_of(rows: list[dict[str, Any]], curve_row: dict[str, Any]) -> int:
    source = curve_row["source"].removeprefix("subsample of ")
    return next(i for i, r in enumerate(rows) if r["job"] == source)


def _one_task(jobs: list[Job], task: str | None, messages: list[str]) -> list[Job]:
    counts = Counter(j.task for j in jobs)
    if task is None:
        if len(counts) == 1:
            return jobs
        task = counts.most_common(1)[0][0]
    elif task not in counts:
        raise ValueError(f"--task {task}: no finished job of that task (tasks here: {', '.join(sorted(counts))})")
    for other, count in sorted(counts.items()):
        if other != task:
            messages.append(
                f"mixed tasks: left out {count} job(s) of task '{other}' (collecting task '{task}'); "
                f"accuracies of different tasks are not comparable; collect them with --task {other}"
            )
    return [j for j in jobs if j.task == task]


def write_table(rows: list[dict[str, Any]], stem: Path) -> None:
    """`stem.csv` (columns in first-seen order) and `stem.json`, each written atomically."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    tmp = stem.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(stem.with_suffix(".csv"))
    atomic_write(stem.with_suffix(".json"), json.dumps(rows, indent=1, default=str))


def read_table(path: Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist: run infscale-collect on the sweep folder first")
    return json.loads(path.read_text())


def write_collection(collection: Collection, root: Path) -> list[Path]:
    root = Path(root)
    write_table(collection.rows, root / "collected")
    write_table(collection.curves, root / "curves")
    write_table(collection.levels, root / "levels")
    return [root / f"{name}.csv" for name in ("collected", "curves", "levels")] + [
        outcomes.write(collection.outcomes, root)
    ]


def report(collection: Collection, stream: Any = None) -> None:
    stream = stream or sys.stderr
    for message in collection.messages:
        print(f"infscale-collect: {message}", file=stream)


@errors.command("infscale-collect")
def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="infscale-collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path, help="a multirun folder (or any folder holding run folders)")
    parser.add_argument("--task", help="the task to collect when the jobs span several")
    parser.add_argument("--draws", type=int, default=64, help="random subsets per (problem, n) for subsampled curves")
    args = parser.parse_args(None if argv is None else list(argv))
    collection = collect(args.sweep, args.task, args.draws)
    report(collection)
    paths = write_collection(collection, args.sweep)
    print(
        f"collected {len(collection.rows)} jobs ({len(collection.messages)} messages above), "
        f"{len(collection.curves)} subsampled points, {len(collection.levels)} difficulty rows:"
    )
    for path in paths:
        print(f"  {path}")


if __name__ == "__main__":
    main()
