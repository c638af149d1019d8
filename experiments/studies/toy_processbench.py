"""A ProcessBench-format toy set: toy policies' own solutions to held-out toy problems,
every step labelled by the exact checker, one file per level (the subsets).

    python -m infscale.experiments.studies.toy_processbench --out outputs/toy_processbench --problems 200 --samples 4
    infscale-prm-eval data.path=outputs/toy_processbench reward=toy_prm

Problems come from `task.seed` (default 7; evaluation seeds only), solutions from each named
policy checkpoint, one greedy and `--samples` at temperature 1, seeded; the same command
writes the same files.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infscale.budgets.budget import Budget
from infscale.experiments.app.build import build_engine, build_policy, load, load_config
from infscale.experiments.app.resolvers import package_path
from infscale.experiments.training.prm_synth import SynthSettings, sample_pool
from infscale.rewards.eval.data import write_items
from infscale.tasks.toy_arith import CHECKPOINTS


def toy_records(
    policy_dirs: Sequence[Path],
    problems: int,
    samples: int,
    task_seed: int = 7,
    seed: int = 0,
    task: str = "toy_arith",
    temperature: float | None = None,
) -> list[dict[str, Any]]:
    """Per policy and problem: one greedy solution and `samples` sampled ones, at `temperature`
    or, when None, at the policy preset's own (toy_arith's presets: 1; toy_sum's: chosen per
    policy). Greedy solutions are right more often, which keeps the set from being all errors.
    A folder named like a policy preset (`conf/policy/<name>.yaml`) takes that preset's settings."""
    toy_task = load("task", task, seed=task_seed, n=problems)
    records = []
    for folder in policy_dirs:
        preset = (
            Path(folder).name if Path(package_path(f"conf/policy/{Path(folder).name}.yaml")).exists() else "toy_small"
        )
        cfg = load_config(
            f"policy={preset}", f"policy.path={folder}", "policy.name=null", f"seed={seed}", "progress=false"
        )
        policy = build_policy(cfg, toy_task)
        sampled = cfg.policy.temperature if temperature is None else temperature
        for t, n in ((0.0, 1), (sampled, samples)):
            cfg.policy.temperature = t
            engine = build_engine(cfg, toy_task, policy, None, Budget.unlimited())
            for record in sample_pool(engine, toy_task.problems(), SynthSettings(samples=n)):
                provenance = {**record["provenance"], "temperature": t}
                records.append({**record, "id": f"{Path(folder).name}:t{t:g}:{record['id']}", "provenance": provenance})
    return records


def write_by_subset(folder: Path, records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """One `<subset>.jsonl` per subset; returns the item count of each."""
    by_subset: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_subset.setdefault(record["subset"], []).append(record)
    return {name: write_items(Path(folder) / f"{name}.jsonl", rows) for name, rows in sorted(by_subset.items())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--policies",
        nargs="+",
        default=["toy_small", "toy_large"],
        help="checkpoint folders, or names under tasks/toy_checkpoints",
    )
    parser.add_argument("--problems", type=int, default=200)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--task-seed", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    dirs = [Path(p) if Path(p).is_dir() else CHECKPOINTS / p for p in args.policies]
    counts = write_by_subset(args.out, toy_records(dirs, args.problems, args.samples, args.task_seed, args.seed))
    print(", ".join(f"{name}: {n}" for name, n in counts.items()), f"items written to {args.out}")


if __name__ == "__main__":
    main()
