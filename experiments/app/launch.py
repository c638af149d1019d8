"""The `infscale-run` command. Signals are honoured from the first moment: until the run's own
handlers take over (experiments/app/run.py), SIGINT or SIGTERM ends the process at once with one
line (nothing has been written yet), never with a traceback from the middle of an import."""

from __future__ import annotations

import importlib.resources
import os
import signal
import sys
from pathlib import Path
from typing import Any

from infscale.experiments.app import errors
from infscale.experiments.app.suggest import closest


def _before_the_run(signum: int, frame: Any) -> None:
    sys.stderr.write(f"infscale-run: interrupted by {signal.Signals(signum).name} while starting; nothing written\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def unwritable(argv: list[str]) -> str | None:
    """Why the run folder cannot be written (a line), else None. Checked before Hydra starts,
    which would otherwise fail with a traceback while creating the folder."""
    folder = Path("outputs")
    for arg in argv:
        if arg.startswith(("hydra.run.dir=", "hydra.sweep.dir=")):
            folder = Path(arg.split("=", 1)[1]).expanduser()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"run folder {folder}: {existing} is not a folder; choose another hydra.run.dir"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"run folder {folder}: {existing} is not writable; choose another hydra.run.dir"
    return None


def unknown_option(argv: list[str]) -> str | None:
    """A config group option that does not exist (`allocator=bogus`) as one line naming the
    known ones, else None. Hydra reports it too, but as a dozen lines. Only plain `group=option`
    (or `+group=...`, comma sweeps) over the package's own `conf/<group>/` is checked; with an
    extra config search path every option is left to Hydra."""
    if any(a.startswith(("--config-dir", "-cd", "hydra.searchpath")) for a in argv):
        return None
    conf = Path(str(importlib.resources.files("infscale.conf")))
    for arg in argv:
        key, _, value = arg.lstrip("+").partition("=")
        if arg.startswith("-") or not value or not key.isidentifier() or not (conf / key).is_dir():
            continue
        if not all(option.replace("_", "").replace("-", "").isalnum() for option in value.split(",")):
            continue  # interpolations, sweep functions (choice(...), glob(...)): Hydra's to resolve
        for option in value.split(","):
            if option != "null" and not (conf / key / f"{option}.yaml").exists():
                known = sorted(p.stem for p in (conf / key).glob("*.yaml"))
                return f"{key}={option}: no such {key} (known: {', '.join(known)}){closest(option, known)}"
    return None


def _multirun_summary(error: BaseException) -> str | None:
    from infscale.experiments.app import job_outcomes

    return job_outcomes.summary(error)


@errors.command("infscale-run", explain=_multirun_summary)
def main() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _before_the_run)
    problem = unwritable(sys.argv[1:]) or unknown_option(sys.argv[1:])
    if problem is not None:
        raise ValueError(problem)
    from infscale.experiments.app.run import main as run_main

    run_main()
