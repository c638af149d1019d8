"""A run folder: `results.jsonl` (one line per finished problem), `summary.json`, `trees/`,
`run_config.json` (what the results were computed with) and a lock.

Nothing is lost and nothing is mislabelled:
- one run at a time: an exclusive lock (`filelock`) on the folder; a second run stops at once
  with a line naming the holder (pid, host, start time);
- the configuration's fingerprint is kept in `run_config.json` and checked when a run resumes;
- a problem is appended (flushed; fsync'd at most once a second, and at the end) the moment it
  finishes, in whatever order problems finish; a resumed run skips every problem on disk;
- a torn last line (a kill in the middle of a write) is cut off on restart; any other line that
  cannot be read stops the run with file:line and what to do, never silent loss;
- at the end an on-disk ordering step rewrites `results.jsonl` in problem order (one record in
  memory at a time) and the summary is computed from the stream with running sums.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import filelock

from infscale.experiments.stats import bootstrap_ci

CONFIG_NAME = "run_config.json"
LOCK_NAME = ".infscale.lock"
OWNER_NAME = ".infscale.owner.json"
FSYNC_EVERY_S = 1.0
_Method = TypeVar("_Method", bound=Callable[..., Any])


def _writes(method: _Method) -> _Method:
    """A write that fails (folder turned read-only, disk full) stops with one line naming the file."""

    @functools.wraps(method)
    def wrapper(self: RunStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except OSError as error:
            raise unwritable(self.folder, error) from None

    return wrapper  # type: ignore[return-value]


class RunStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"cannot create the run folder {self.folder}: {error.strerror}") from None
        self.results_path = self.folder / "results.jsonl"
        self._lock: filelock.BaseFileLock | None = None
        self._handle: Any = None
        self._synced = 0.0

    # --- one run at a time ---------------------------------------------------------------

    def lock(self) -> None:
        """Take the folder's exclusive lock, or stop with a line naming who holds it."""
        lock = filelock.FileLock(self.folder / LOCK_NAME, timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise ValueError(f"run folder {self.folder} is in use by {self._holder()}; wait for it to finish") from None
        except OSError as error:
            raise unwritable(self.folder, error) from None
        self._lock = lock
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}
        try:
            atomic_write(self.folder / OWNER_NAME, json.dumps(owner))
            if self.results_path.exists():  # a resumed run appends to it: find out now, not after the first problem
                self.results_path.open("ab").close()
        except OSError as error:
            self.release()
            raise unwritable(self.folder, error) from None

    def _holder(self) -> str:
        """Who holds the lock. The holder writes its owner file just after taking the lock,
        so a launch that lost the race by a moment waits up to a second for it."""
        deadline = time.monotonic() + 1.0
        while (holder := owner(self.folder)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return holder or "another run (holder unknown)"

    def release(self) -> None:
        self.close()
        if self._lock is not None:
            try:
                (self.folder / OWNER_NAME).unlink(missing_ok=True)
            except OSError:
                pass  # a folder that turned read-only: the lock is released all the same
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RunStore:
        self.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # --- what the results were computed with ----------------------------------------------

    def check_config(self, fingerprint: dict[str, Any], has_results: bool) -> None:
        """Refuse a configuration other than the one this folder's results were computed with."""
        path = self.folder / CONFIG_NAME
        if path.exists() and has_results:
            try:
                stored = json.loads(path.read_text())
            except ValueError:
                raise ValueError(f"{path} is unreadable; move {self.folder} away and rerun") from None
            self._refuse(differing_keys(stored, fingerprint))
        elif has_results and (self.folder / "summary.json").exists():  # a folder from before run_config.json
            stored = provenance_of(json.loads((self.folder / "summary.json").read_text())).get("config") or {}
            self._refuse(differing_keys({k: v for k, v in stored.items() if k in fingerprint}, fingerprint))

    def _refuse(self, differ: list[str]) -> None:
        if differ:
            raise ValueError(
                f"run folder {self.folder} holds results of another configuration (differs in "
                f"{', '.join(differ[:8])}{' ...' if len(differ) > 8 else ''}); use another hydra.run.dir"
            )

    @_writes
    def keep_config(self, fingerprint: dict[str, Any]) -> None:
        atomic_write(self.folder / CONFIG_NAME, json.dumps(fingerprint, indent=1, sort_keys=True, default=str))

    # --- reading back ---------------------------------------------------------------------

    def finished(self) -> list[str]:
        """Problem ids on disk, in file order. Cuts off a torn last line; any other
        unreadable line, or a problem written twice, stops with file:line."""
        return [problem_id for problem_id, _, _ in self._index()]

    def _index(self) -> Iterator[tuple[str, int, int]]:
        """(problem id, byte offset, length) of every intact line."""
        if not self.results_path.exists():
            return
        seen: dict[str, int] = {}
        offset = 0
        with self.results_path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                if not raw.endswith(b"\n"):
                    break  # torn tail: cut below
                problem_id = self._problem_id(raw, number)
                if problem_id in seen:
                    raise ValueError(
                        f"{self.results_path}:{number}: problem {problem_id!r} is already on line "
                        f"{seen[problem_id]}; delete one of the two lines and rerun"
                    )
                seen[problem_id] = number
                yield problem_id, offset, len(raw)
                offset += len(raw)
        if offset != self.results_path.stat().st_size:
            with self.results_path.open("r+b") as handle:
                handle.truncate(offset)

    def _problem_id(self, raw: bytes, number: int) -> str:
        try:
            record = json.loads(raw.decode("utf-8"))
            problem_id = record["problem_id"]
            if not isinstance(problem_id, str):
                raise TypeError("problem_id is not a string")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            reason = "not UTF-8" if isinstance(error, UnicodeDecodeError) else f"{error.__class__.__name__}: {error}"
            raise ValueError(
                f"{self.results_path}:{number}: unreadable line ({reason[:120]}); the other lines are intact: "
                f"delete this line (its problem is recomputed) or move the folder away, then rerun"
            ) from None
        return problem_id

    # --- writing ----------------------------------------------------------------------------

    @_writes
    def append(self, record: dict[str, Any]) -> None:
        """One finished problem, flushed at once; fsync'd at most every FSYNC_EVERY_S."""
        if self._handle is None:
            self._handle = self.results_path.open("a", encoding="utf-8")
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        if time.monotonic() - self._synced >= FSYNC_EVERY_S:
            os.fsync(self._handle.fileno())
            self._synced = time.monotonic()

    @_writes
    def close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None

    @_writes
    def finalize(self, ids: list[str], extra: dict[str, Any]) -> dict[str, Any]:
        """Rewrite `results.jsonl` in the order of `ids` (on disk, a record at a time) and
        write `summary.json` from the stream, with `extra` (its `provenance`, the pool) after
        the totals."""
        self.close()
        if not ids:
            raise ValueError("no problems in this run: n_problems is 0 or the task is empty")
        index = {problem_id: (offset, length) for problem_id, offset, length in self._index()}
        missing = [i for i in ids if i not in index]
        if missing:
            raise ValueError(f"{self.results_path} lacks {len(missing)} problems (e.g. {missing[0]}); rerun to finish")
        totals = Summary()
        tmp = self.results_path.with_name(self.results_path.name + ".tmp")
        with self.results_path.open("rb") as source, tmp.open("wb") as target:
            for problem_id in ids:
                offset, length = index[problem_id]
                source.seek(offset)
                raw = source.read(length)
                totals.add(json.loads(raw))
                target.write(raw)
            target.flush()
            os.fsync(target.fileno())
        os.replace(tmp, self.results_path)
        summary = {**totals.result(), **extra}
        atomic_write(self.folder / "summary.json", json.dumps(summary, indent=2, default=str))
        return summary


def provenance_of(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary's provenance (`config`, `git_commit`, `versions`, `checkpoints`,
    `engine_calls`, `finished_at`): its `provenance` object, or, in a summary written before
    that object existed, the same keys at the top level."""
    nested = summary.get("provenance")
    return nested if isinstance(nested, dict) else summary


class Summary:
    """Running sums over records: memory is one float per problem (for the bootstrap CI)."""

    _MEANS = {
        "flops_total": ("flops", "total"),
        "flops_paper": ("flops", "paper"),
        "tokens_generated": ("tokens", "generated"),
        "wall_s": ("wall_s",),
    }

    def __init__(self) -> None:
        self.correct: list[float] = []
        self.sums: dict[str, float | None] = dict.fromkeys(self._MEANS, 0.0)

    def add(self, record: dict[str, Any]) -> None:
        self.correct.append(float(record["correct"]))
        for name, keys in self._MEANS.items():
            value: Any = record
            for key in keys:
                value = value[key]
            total = self.sums[name]
            self.sums[name] = None if total is None or value is None else total + float(value)

    def result(self) -> dict[str, Any]:
        n = len(self.correct)
        if not n:
            raise ValueError("no problems in this run: n_problems is 0 or the task is empty")
        low, high = bootstrap_ci(self.correct)
        return {
            "accuracy": sum(self.correct) / n,
            "accuracy_lo": low,
            "accuracy_hi": high,
            "n_problems": n,
            **{name: None if total is None else total / n for name, total in self.sums.items()},
        }


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(flatten(inner, f"{prefix}{key}."))
        return flat or {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): value}


def differing_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """`key: old -> new` for every dotted key whose value differs."""
    a, b = flatten(old), flatten(new)
    return [
        f"{k}: {a.get(k, '<unset>')} -> {b.get(k, '<unset>')}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
    ]


def unwritable(folder: Path, error: OSError) -> ValueError:
    """The one line for a run folder (or a file in it) that cannot be written."""
    where = f"{error.filename}: " if error.filename and Path(error.filename) != folder else ""
    return ValueError(
        f"run folder {folder} is not writable ({where}{error.strerror}); make it writable or choose another "
        "hydra.run.dir (finished problems on disk are kept)"
    )


def owner(folder: Path) -> str | None:
    """'pid N on HOST, since T' from the run folder's owner file, None when there is none."""
    try:
        record = json.loads((Path(folder) / OWNER_NAME).read_text())
        return f"pid {record['pid']} on {record['host']}, since {record['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running(folder: Path) -> str | None:
    """Who is running in `folder` now (its lock is held), else None. Reads only: a folder
    never locked, or one this process cannot lock (read-only), counts as not running."""
    try:
        fd = os.open(Path(folder) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        # The probe is flock itself, as filelock's lock: a FileLock in the prober's own process
        # could answer from filelock's per-process registry instead.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return owner(folder) or "holder unknown"
    except OSError:
        return None
    finally:
        os.close(fd)  # closing releases a probe that won
    return None


def corrupt_line(path: Path) -> int | None:
    """The number of the first complete line of a results file that is not a JSON record
    (a torn last line, without its newline, is a run cut short, not corruption)."""
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.endswith(b"\n"):
                return None
            try:
                if not isinstance(json.loads(raw), dict):
                    return number
            except ValueError:
                return number
    return None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
