"""What became of each `infscale-run` job, for its log file and for a multirun's closing line.

A Hydra callback (conf/config.yaml, `hydra.callbacks`). At each job's end, in whichever
process ran it (the joblib launcher runs jobs in worker processes), a failed job's reason goes
to its log file as one `error:` line (infscale-collect reads it from there); a single run's bad
input also goes to stderr and ends the command with status 2. In a multirun every job's outcome is appended to `<sweep dir>/multirun_jobs.jsonl`. When a multirun had
failures Hydra raises the first failed job's exception once all jobs are done; `summary`
turns it into one line, "3 of 4 jobs finished; job 1 (strategy.n=-3) failed: <why>", and the
command's error boundary (experiments/app/errors.py) prints it and exits nonzero. The other
jobs' results are kept in their folders as always.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from infscale.experiments.app.errors import fail, is_known, one_line, tracebacks

FILE = "multirun_jobs.jsonl"
log = logging.getLogger("infscale.run")
_sweep: list[Path] = []  # the sweep folder of the multirun this process launched


class JobOutcomes(Callback):
    def __init__(self, log_reason: bool = True) -> None:
        """`log_reason`: log a failed job's reason (to the job's log file; in a multirun to the
        console too). For commands whose logging keeps no file of its own (infscale-prm-eval)
        it is false: their single runs' line is printed once, by `fail`."""
        self.log_reason = log_reason

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.sweep.dir))
        (folder / FILE).unlink(missing_ok=True)  # a rerun into the same folder starts a new record
        _sweep[:] = [folder]

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        multirun = config.hydra.mode == RunMode.MULTIRUN
        failed = job_return.status == JobStatus.FAILED
        error = job_return._return_value if failed else None
        reason = one_line(error) if error is not None else None
        if error is not None:
            if self.log_reason:
                log.error("error: %s", reason, extra={"file_only": not multirun})
            if not multirun and is_known(error) and not tracebacks():
                fail(reason)  # before Hydra adds a line of its own
        if multirun:
            record = {"num": int(config.hydra.job.num), "overrides": list(job_return.overrides or []), "error": reason}
            folder = Path(str(config.hydra.sweep.dir))
            folder.mkdir(parents=True, exist_ok=True)
            line = (json.dumps(record) + "\n").encode()
            fd = os.open(folder / FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)  # one write per line: lines of parallel jobs do not interleave
            finally:
                os.close(fd)


def summary(error: BaseException) -> str | None:
    """The multirun's failed jobs in one line, or None when this process ran no multirun."""
    if not _sweep or not (_sweep[0] / FILE).exists():
        return None
    jobs = [json.loads(line) for line in (_sweep[0] / FILE).read_text().splitlines() if line.strip()]
    failed = sorted((job for job in jobs if job["error"] is not None), key=lambda job: job["num"])
    if not failed:
        return None
    shared = set.intersection(*(set(job["overrides"]) for job in jobs)) if len(jobs) > 1 else set()

    def named(job: dict[str, Any]) -> str:
        varying = [o for o in job["overrides"] if o not in shared] or job["overrides"]
        return f"job #{job['num']} ({' '.join(varying)}) failed: {job['error']}"

    return f"{len(jobs) - len(failed)} of {len(jobs)} jobs finished; " + "; ".join(named(job) for job in failed)
