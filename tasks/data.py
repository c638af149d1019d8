"""Where data files are: `$INFSCALE_DATA_DIR`, else `../shared/data` beside the repository,
else an explicit `task.path`; and reading JSONL with errors that name the file and line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

_REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """`$INFSCALE_DATA_DIR` when set, else `../shared/data` next to the repository."""
    env = os.environ.get("INFSCALE_DATA_DIR")
    return Path(env).expanduser() if env else _REPO_ROOT.parent / "shared" / "data"


def resolve(path: str | os.PathLike | None, default: str) -> Path:
    """`path` when given (a user's own file), else `default` under `data_dir()`."""
    if path:
        candidate = Path(path).expanduser()
        if not candidate.is_file():
            raise ValueError(f"task.path '{path}' is not a file")
        return candidate
    candidate = data_dir() / default
    if not candidate.is_file():
        raise ValueError(f"data file '{default}' not found in {data_dir()} (set $INFSCALE_DATA_DIR or task.path)")
    return candidate


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{path}:{number}: not UTF-8 (byte {raw[error.start]:#04x} at column {error.start + 1})"
                ) from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: not a JSON object")
            missing = [key for key in required if key not in row]
            if missing:
                raise ValueError(f"{path}:{number}: missing field(s) {', '.join(missing)}")
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no records")
    return rows


def load_hub(dataset: str, split: str) -> list[dict[str, Any]]:
    """Rows of a Hugging Face dataset, `name` or `name:config` such as `openai/gsm8k:main`
    (needs network and the `datasets` package)."""
    try:
        import datasets
    except ImportError:
        raise ValueError(f"task.dataset '{dataset}' needs the 'datasets' package: pip install infscale[hub]") from None
    name, _, config = dataset.partition(":")
    return [dict(row) for row in datasets.load_dataset(name, config or None, split=split)]
