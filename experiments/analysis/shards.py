"""The shards of one configuration (`shard.count` > 1, experiments/app/shard.py) as one job.

`infscale-collect` hands every finished job here; the shards of a configuration come back as
one job over the union of their problems, in the unsharded run's order (shard i holds
problems i, i + count, ...), with its summary computed as the unsharded run computes it.

Shards belong together when their configs are equal but for `shard.index` (and the keys that
do not change results: `resolvers.NOT_IN_RUN_ID`). Refused with one line naming them (a
`ValueError`, collect stops): a shard in two folders, shards that ran different code (git
commit), complementary shards of configurations that differ. A configuration with a missing
or unfinished shard is left out with one line saying which shard and how far it got; rerunning
that shard's command resumes it, and the next collect merges.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

from infscale.experiments.app import resolvers
from infscale.experiments.app.shard import shard_of
from infscale.experiments.app.store import CONFIG_NAME, Summary, differing_keys, provenance_of


class Job(Protocol):
    """What collect's Job (experiments/analysis/collect.py) offers; merged jobs are copies of one."""

    folder: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    records: list[dict[str, Any]]


def merge(jobs: list[Job], unfinished: list[Path], root: Path, messages: list[str]) -> list[Job]:
    """`jobs` with each configuration's shards replaced by one merged job (unsharded jobs as
    they are). `unfinished` are the folders collect could not load, searched for the shards a
    configuration lacks."""
    plain: list[Job] = []
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if shard_of(job.config).sharded:
            groups.setdefault(_key(job.config), []).append(job)
        else:
            plain.append(job)
    merged, incomplete = [], {}
    for key, group in groups.items():
        by_index: dict[int, list[Job]] = {}
        for job in group:
            by_index.setdefault(shard_of(job.config).index, []).append(job)
        _refuse_duplicates(by_index, root)
        count = shard_of(group[0].config).count
        if len(by_index) < count:
            incomplete[key] = by_index
            continue
        shards = [by_index[i][0] for i in range(count)]
        _refuse_mixed_code(shards, root)
        merged.append(_merged(shards, root))
    lines = _incomplete_lines(incomplete, _pending(unfinished), root)
    messages += lines
    result = plain + merged
    if not result and lines:
        raise ValueError(lines[0] + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""))
    return result


def _key(config: dict[str, Any], *, with_problems: bool = True) -> str:
    """A configuration's identity less its shard index (and less `n_problems`, which a run
    folder's stored fingerprint does not hold, unless `with_problems`)."""
    ignored = resolvers.NOT_IN_RUN_ID | ({"shard"} if with_problems else {"shard", "n_problems"})
    same = {k: v for k, v in resolvers.portable(config).items() if k not in ignored}
    same["shard.count"] = shard_of(config).count
    return json.dumps(same, sort_keys=True, default=str)


def _where(job: Job, root: Path) -> str:
    return _relative(job.folder, root)


def _relative(folder: Path, root: Path) -> str:
    try:
        return str(folder.relative_to(root)) or "."
    except ValueError:
        return str(folder)


def _first(by_index: dict[int, list[Job]]) -> Job:
    return next(iter(by_index.values()))[0]


def _refuse_duplicates(by_index: dict[int, list[Job]], root: Path) -> None:
    for index, copies in sorted(by_index.items()):
        if len(copies) > 1:
            count = shard_of(copies[0].config).count
            raise ValueError(
                f"shard {index} of {count} is in {len(copies)} folders "
                f"({', '.join(_where(j, root) for j in copies)}); keep one and move the others away"
            )


def _refuse_mixed_code(shards: list[Job], root: Path) -> None:
    commits: dict[str, list[int]] = {}
    for index, job in enumerate(shards):
        commits.setdefault(str(provenance_of(job.summary).get("git_commit")), []).append(index)
    if len(commits) > 1:
        said = "; ".join(f"{commit[:12]}: shards {', '.join(map(str, ids))}" for commit, ids in commits.items())
        raise ValueError(
            f"{_name(shards[0], root)}: its shards ran different code (git commit {said}); "
            "rerun the odd ones at one commit"
        )


def _name(first: Job, root: Path) -> str:
    """The merged job's name: shard 0's folder with its shard written as a range
    (`...-shard0of4` -> `...-shard0-3of4`, `shard.index=0` -> `shard.index=0-3`)."""
    shard = shard_of(first.config)
    span = f"0-{shard.count - 1}"
    where = _where(first, root)
    named = re.sub(rf"-shard{shard.index}of{shard.count}\b", f"-shard{span}of{shard.count}", where)
    named = re.sub(rf"shard\.index={shard.index}\b", f"shard.index={span}", named)
    return named if named != where else f"{where} (shards {span} of {shard.count})"


def _merged(shards: list[Job], root: Path) -> Job:
    count = len(shards)
    total = sum(len(job.records) for job in shards)
    sizes = [len(job.records) for job in shards]
    expected = [len(range(i, total, count)) for i in range(count)]
    name = _name(shards[0], root)
    if sizes != expected:
        raise ValueError(f"{name}: its shards hold {sizes} problems, not the split of {total} ({expected})")
    records = [shards[p % count].records[p // count] for p in range(total)]
    if len({r["problem_id"] for r in records}) != total:
        raise ValueError(f"{name}: its shards hold some problem twice")
    totals = Summary()
    for record in records:
        totals.add(record)
    calls: Counter[str] = Counter()
    for job in shards:
        calls.update(provenance_of(job.summary).get("engine_calls") or {})
    config = {**shards[0].config, "shard": {"count": count, "index": None}}
    provenance = {
        **provenance_of(shards[0].summary),
        "config": config,
        "shard": {"count": count, "index": None},
        "shards": [_where(job, root) for job in shards],
        "engine_calls": dict(calls),
        "finished_at": max(str(provenance_of(job.summary).get("finished_at")) for job in shards),
    }
    summary = {**shards[0].summary, **totals.result(), **_allocation(shards), "provenance": provenance}
    return dataclasses.replace(shards[0], folder=root / name, config=config, summary=summary, records=records)  # type: ignore[type-var]


def _allocation(shards: list[Job]) -> dict[str, Any]:
    """An allocated configuration's `pool` and `allocation` over its shards: each shard spent
    its own share of the pool (experiments/app/shard.py), so totals, spending and what is left
    add up; waves are the longest shard's."""
    if any("pool" not in job.summary for job in shards):
        return {}
    pool = {key: _sum(job.summary["pool"].get(key) for job in shards) for key in shards[0].summary["pool"]}
    parts = [job.summary.get("allocation") or {} for job in shards]
    reasons: Counter[str] = Counter()
    for part in parts:
        reasons.update(part.get("reasons") or {})
    sizes = [len(job.records) for job in shards]
    allocation = {
        **parts[0],
        "waves": max(part.get("waves", 0) for part in parts),
        "scheduling_s": sum(part.get("scheduling_s", 0.0) for part in parts),
        "saving_s": sum(part.get("saving_s", 0.0) for part in parts),
        "reasons": dict(reasons),
        "samples_mean": sum(part.get("samples_mean", 0.0) * n for part, n in zip(parts, sizes)) / max(sum(sizes), 1),
    }
    return {"pool": pool, "allocation": allocation}


def _sum(values: Any) -> Any:
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def _pending(unfinished: list[Path]) -> list[tuple[Path, dict[str, Any], int]]:
    """(folder, stored fingerprint, problems done) of each unfinished shard folder."""
    found = []
    for folder in unfinished:
        try:
            fingerprint = json.loads((folder / CONFIG_NAME).read_text())
            results = folder / "results.jsonl"
            done = results.read_bytes().count(b"\n") if results.exists() else 0
        except (OSError, ValueError):
            continue
        if isinstance(fingerprint, dict) and shard_of(fingerprint).sharded:
            found.append((folder, fingerprint, done))
    return found


def _incomplete_lines(
    incomplete: dict[str, dict[int, list[Job]]], pending: list[tuple[Path, dict[str, Any], int]], root: Path
) -> list[str]:
    lines = []
    for key, by_index in incomplete.items():
        first = _first(by_index)
        count, n_problems = shard_of(first.config).count, first.config.get("n_problems")
        loose = _key(first.config, with_problems=False)
        said = []
        for index in (i for i in range(count) if i not in by_index):
            progress = [
                (folder, done)
                for folder, fingerprint, done in pending
                if shard_of(fingerprint).index == index and _key(fingerprint, with_problems=False) == loose
            ]
            if progress:
                folder, done = progress[0]
                of = f" of {len(range(index, n_problems, count))}" if isinstance(n_problems, int) else ""
                said.append(f"shard {index} unfinished ({done}{of} problems done in {_relative(folder, root)})")
            else:
                _refuse_mismatch(key, by_index, incomplete, root)
                said.append(f"shard {index} missing")
        lines.append(
            f"{_name(first, root)}: left out, {count} shards but {', '.join(said)}; "
            "run or rerun those shards' commands (a rerun resumes) and collect again"
        )
    return lines


def _refuse_mismatch(
    key: str, mine: dict[int, list[Job]], incomplete: dict[str, dict[int, list[Job]]], root: Path
) -> None:
    """Two incomplete configurations whose shards together make a whole one: the shards were
    meant as one run but ran with different settings."""
    a = _first(mine)
    count = shard_of(a.config).count
    for other_key, theirs in incomplete.items():
        b = _first(theirs)
        same_count = shard_of(b.config).count == count
        if other_key == key or not same_count or set(mine) & set(theirs) or len(mine) + len(theirs) != count:
            continue
        differ = differing_keys(_comparable(a.config), _comparable(b.config))
        raise ValueError(
            f"shards of different configurations: {_where(a, root)} (shard {shard_of(a.config).index} of {count}) "
            f"and {_where(b, root)} (shard {shard_of(b.config).index} of {count}) differ in {'; '.join(differ[:4])}"
        )


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resolvers.portable(config).items() if k not in resolvers.NOT_IN_RUN_ID | {"shard"}}
