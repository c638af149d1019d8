"""A run folder: `results.jsonl` (one line per finished problem, in problem order),
`summary.json`, and `trees/`. Lines are appended and flushed as problems finish, so a run
killed at any moment restarts where it stopped; a torn last line is dropped on restart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from infscale.experiments.stats import bootstrap_ci


class RunStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.results_path = self.folder / "results.jsonl"

    def finished(self) -> dict[str, dict[str, Any]]:
        """Records already on disk, by problem id; rewrites the file without a torn tail."""
        if not self.results_path.exists():
            return {}
        records, intact = {}, []
        for line in self.results_path.read_text().splitlines(keepends=True):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                break
            if not line.endswith("\n"):
                break
            records[record["problem_id"]] = record
            intact.append(line)
        if len(intact) != sum(1 for _ in self.results_path.open()):
            atomic_write(self.results_path, "".join(intact))
        return records

    def append(self, record: dict[str, Any]) -> None:
        with self.results_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def write_summary(self, records: list[dict[str, Any]], provenance: dict[str, Any]) -> dict[str, Any]:
        summary = {**summarize(records), **provenance}
        atomic_write(self.folder / "summary.json", json.dumps(summary, indent=2, default=str))
        return summary


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    records = list(records)
    if not records:
        raise ValueError("no problems in this run: n_problems is 0 or the task is empty")
    correct = [float(r["correct"]) for r in records]
    low, high = bootstrap_ci(correct)
    return {
        "accuracy": float(np.mean(correct)),
        "accuracy_lo": low,
        "accuracy_hi": high,
        "n_problems": len(records),
        "flops_total": _mean(r["flops"]["total"] for r in records),
        "flops_paper": _mean(r["flops"]["paper"] for r in records),
        "tokens_generated": _mean(r["tokens"]["generated"] for r in records),
        "wall_s": _mean(r["wall_s"] for r in records),
    }


def _mean(values: Iterable[float | None]) -> float | None:
    values = list(values)
    return None if any(v is None for v in values) else float(np.mean(values))


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
