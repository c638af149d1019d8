"""One configuration of 3,000 simulated problems run in 4 shards by a Hydra multirun over
`shard.index` (joblib launcher), against the same configuration unsharded: the merged records
are the unsharded run's, and infscale-collect shows one row with its accuracy and costs. A
shard cut short is named by collect, and rerunning its command completes the merge."""

import json
import shutil
import subprocess

import pytest

from tests.conftest import BIN, REPO, read_results, run_cli

pytestmark = pytest.mark.slow

# best_of_n with n=2: the cheapest strategy, so 3,000 problems stay well under a minute per run
WORLD = ("strategy=best_of_n", "strategy.n=2", "task.n=3000", "n_problems=3000", "progress=false")
SHARDS = ("hydra/launcher=infscale_joblib", "shard.count=4")
COSTS = ("accuracy", "accuracy_lo", "accuracy_hi", "flops_total", "flops_paper", "tokens_generated", "n_problems")


def collect_cli(folder):
    return subprocess.run(
        [str(BIN / "infscale-collect"), "--draws", "2", str(folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def untimed(record):
    return {k: v for k, v in record.items() if k != "wall_s"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sharded")
    whole = run_cli(*WORLD, f"hydra.run.dir={root / 'whole'}")
    assert whole.returncode == 0, whole.stderr
    sweep = run_cli("-m", *WORLD, *SHARDS, "shard.index=range(4)", f"hydra.sweep.dir={root / 'sweep'}")
    assert sweep.returncode == 0, sweep.stderr
    return root


def shard_folders(sweep):
    return sorted(
        (p.parent for p in sweep.rglob("summary.json")),
        key=lambda p: json.loads((p / "summary.json").read_text())["provenance"]["shard"]["index"],
    )


def test_the_merged_shards_are_the_unsharded_run_record_for_record(runs):
    shards = shard_folders(runs / "sweep")
    assert [json.loads((s / "summary.json").read_text())["provenance"]["shard"] for s in shards] == [
        {"count": 4, "index": i} for i in range(4)
    ]
    whole = read_results(runs / "whole")
    by_problem = {r["problem_id"]: r for s in shards for r in read_results(s)}
    assert len(whole) == len(by_problem) == 3000 == sum(len(read_results(s)) for s in shards)
    assert [untimed(by_problem[r["problem_id"]]) for r in whole] == [untimed(r) for r in whole]

    done = collect_cli(runs / "sweep")
    assert done.returncode == 0, done.stderr
    rows = json.loads((runs / "sweep" / "collected.json").read_text())
    assert len(rows) == 1 and "shard.index=0-3" in rows[0]["job"]
    summary = json.loads((runs / "whole" / "summary.json").read_text())
    assert {k: rows[0][k] for k in COSTS} == pytest.approx({k: summary[k] for k in COSTS}, rel=1e-12)


def test_a_shard_cut_short_is_named_and_its_rerun_gives_the_same_merge(runs, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(runs / "sweep", sweep)
    before = json.loads((runs / "sweep" / "collected.json").read_text())[0]
    cut = shard_folders(sweep)[2]
    (cut / "summary.json").unlink()  # what a kill mid-run leaves: part of results.jsonl, a torn last line, no summary
    lines = (cut / "results.jsonl").read_text().splitlines(keepends=True)
    (cut / "results.jsonl").write_text("".join(lines[:100]) + lines[100][:50])

    refused = collect_cli(sweep)
    assert refused.returncode == 2
    assert "left out, 4 shards but shard 2 unfinished (100 of 750 problems done in" in refused.stderr

    rerun = run_cli("-m", *WORLD, "shard.count=4", "shard.index=2", f"hydra.sweep.dir={sweep}")  # the same job folder
    assert rerun.returncode == 0, rerun.stderr
    assert "100 already finished, 650 to run" in rerun.stderr
    done = collect_cli(sweep)
    assert done.returncode == 0, done.stderr
    rows = json.loads((sweep / "collected.json").read_text())
    assert len(rows) == 1
    assert {k: rows[0][k] for k in COSTS} == {k: before[k] for k in COSTS}
