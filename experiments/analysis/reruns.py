"""Partial reruns: a job that repeats another job's configuration and seed on some of its
problems, as a `save_trees=true` job on a few problems does beside a sweep.

It computes nothing new (a run's results depend on its configuration, seed and problem), so
counting it as a second run of the configuration would pool a copy of the same results as if
it were another seed. `infscale-collect` leaves it out with one line naming both jobs; its
trees still get their viewer from `infscale-report`, which finds every `trees/` folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from infscale.experiments.app import resolvers


class Job(Protocol):
    folder: Path
    config: dict[str, Any]
    records: list[dict[str, Any]]


def drop_partial_reruns(jobs: list[Job], root: Path, messages: list[str]) -> list[Job]:
    """`jobs` less each one whose problems another job of the same configuration (seed
    included) ran too, that one having run more."""
    largest: dict[str, Job] = {}
    for job in jobs:
        key = configuration(job.config)
        if key not in largest or len(job.records) > len(largest[key].records):
            largest[key] = job
    kept = []
    for job in jobs:
        full = largest[configuration(job.config)]
        ran, covered = _problems(job), _problems(full)
        if full is job or not ran <= covered:
            kept.append(job)
            continue
        messages.append(
            f"{job.folder.relative_to(root)}: the configuration and seed of {full.folder.relative_to(root)} on "
            f"{len(ran)} of its {len(covered)} problems (a rerun, e.g. with save_trees=true): left out of the "
            "tables, which count that configuration once; its trees are still in infscale-report's viewer"
        )
    return kept


def _problems(job: Job) -> set[str]:
    return {str(r["problem_id"]) for r in job.records}


def configuration(config: dict[str, Any]) -> str:
    """What a run computes, whatever its shards (merged by then) and however many problems it ran."""
    ignored = resolvers.NOT_IN_RUN_ID | {"shard", "n_problems"}
    return json.dumps(
        {k: v for k, v in resolvers.portable(config).items() if k not in ignored}, sort_keys=True, default=str
    )
