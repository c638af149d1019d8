"""Step-labelled sets in ProcessBench's JSONL format: reading, checking and writing.

One item per line: `problem` (the text the PRM reads before the steps), `steps` (a
non-empty list of strings), `label` (0-based index of the earliest wrong step, -1 if none)
and optionally `final_answer_correct`, `id`, `subset` (otherwise the file's stem names the
subset), `step_scores` (a PRM's saved per-step scores, read by `reward=replay`) and any
provenance fields. Every line is checked before anything is scored, and an error names the
file and line.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Item:
    source: str
    line: int
    id: str
    subset: str
    problem: str
    steps: tuple[str, ...]
    label: int
    final_answer_correct: bool | None
    step_scores: tuple[float, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def data_files(path: str | Sequence[str]) -> list[Path]:
    """A file, a folder of `*.jsonl` files (one per subset), or a list of either."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths:
        raise ValueError("data.path is empty: give a ProcessBench-format JSONL file or folder")
    files: list[Path] = []
    for entry in paths:
        entry = Path(entry)
        if entry.is_dir():
            found = sorted(entry.glob("*.jsonl"))
            if not found:
                raise ValueError(f"data.path {entry} holds no *.jsonl files")
            files.extend(found)
        elif entry.is_file():
            files.append(entry)
        else:
            raise ValueError(f"data.path {entry} does not exist")
    return files


def load_items(path: str | Sequence[str]) -> list[Item]:
    items = [item for file in data_files(path) for item in _read(file)]
    seen: dict[tuple[str, str], str] = {}
    for item in items:
        key = (item.subset, item.id)
        if key in seen:
            raise ValueError(f"{item.where}: duplicate id {item.id!r} in subset {item.subset!r} (first at {seen[key]})")
        seen[key] = item.where
    return items


def _read(file: Path) -> Iterable[Item]:
    with file.open() as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                yield parse_line(text, str(file), number, default_subset=file.stem)


def parse_line(text: str, source: str, line: int, default_subset: str) -> Item:
    where = f"{source}:{line}"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not valid JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{where}: a line must be a JSON object")
    for key in ("problem", "steps", "label"):
        if key not in record:
            raise ValueError(f"{where}: missing field '{key}'")
    problem, steps, label = record["problem"], record["steps"], record["label"]
    if not isinstance(problem, str):
        raise ValueError(f"{where}: 'problem' must be a string")
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise ValueError(f"{where}: 'steps' must be a list of strings")
    if not steps:
        raise ValueError(f"{where}: 'steps' is empty")
    if not isinstance(label, int) or isinstance(label, bool) or not -1 <= label < len(steps):
        raise ValueError(f"{where}: label {label!r} out of range for {len(steps)} steps (must be -1..{len(steps) - 1})")
    final = record.get("final_answer_correct")
    if final is not None and not isinstance(final, bool):
        raise ValueError(f"{where}: 'final_answer_correct' must be true, false or absent")
    scores = record.get("step_scores")
    if scores is not None:
        if not isinstance(scores, list) or not all(_is_number(s) for s in scores):
            raise ValueError(f"{where}: 'step_scores' must be a list of finite numbers")
        scores = tuple(float(s) for s in scores)
    known = {"problem", "steps", "label", "final_answer_correct", "step_scores", "id", "subset"}
    return Item(
        source=source,
        line=line,
        id=str(record.get("id", line)),
        subset=str(record.get("subset") or default_subset),
        problem=problem,
        steps=tuple(steps),
        label=label,
        final_answer_correct=final,
        step_scores=scores,
        extra={k: v for k, v in record.items() if k not in known},
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def item_record(
    id: str,
    subset: str,
    problem: str,
    steps: Sequence[str],
    label: int | None,
    final_answer_correct: bool | None,
    **extra: Any,
) -> dict[str, Any]:
    """A ProcessBench-format line (what `parse_line` reads back); `label=None` (unknown)
    leaves the field out, so the line cannot pass for a labelled item."""
    if not steps or (label is not None and not -1 <= label < len(steps)):
        raise ValueError(f"item {id!r}: label {label} out of range for {len(steps)} steps")
    record = {
        "id": id,
        "subset": subset,
        "problem": problem,
        "steps": list(steps),
        "label": label,
        "final_answer_correct": final_answer_correct,
        **extra,
    }
    if label is None:
        del record["label"]
    return record


def write_items(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records atomically as JSONL; returns how many."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
            count += 1
    os.replace(tmp, path)
    return count
