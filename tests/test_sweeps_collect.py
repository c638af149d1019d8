"""infscale-collect on a real Hydra multirun folder, with a failed, an empty, a killed and a
foreign-task job among the finished ones."""

import csv
import json
import shutil

import pytest

from infscale.experiments.analysis import collect, difficulty
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep") / "multirun"
    common = [f"hydra.sweep.dir={root}", "progress=false", "strategy=best_of_n"]
    done = run_cli("-m", *common, "policy=simulated,sim_large", "strategy.n=2,4", "n_problems=12")
    assert done.returncode == 0, done.stderr
    empty = run_cli("-m", *common, "strategy.n=2", "n_problems=0")  # summarize raises on zero problems
    assert empty.returncode != 0 and "no problems in this run" in empty.stderr
    # a job that fails while building (strategy.n=0): its folder has .hydra/ and a log only
    failed = run_cli("-m", *common, "strategy.n=0", "n_problems=12")
    assert failed.returncode != 0 and "strategy.n must be a positive integer" in failed.stderr
    good = sorted(p.parent for p in root.rglob("summary.json"))
    assert len(good) == 4
    killed = root / "killed"
    shutil.copytree(good[0], killed)
    (killed / "summary.json").unlink()
    lines = (killed / "results.jsonl").read_text().splitlines(keepends=True)
    (killed / "results.jsonl").write_text("".join(lines[:5]) + lines[5][:40])
    foreign = root / "foreign"
    shutil.copytree(good[1], foreign)
    summary = json.loads((foreign / "summary.json").read_text())
    summary["provenance"]["config"]["task"].update(name="other_task", kind="simulated")
    (foreign / "summary.json").write_text(json.dumps(summary))
    return root


def test_finished_jobs_become_rows_with_their_summaries(sweep):
    result = collect.collect(sweep)
    assert len(result.rows) == 4
    for row in result.rows:
        summary = json.loads((sweep / row["job"] / "summary.json").read_text())
        for key in collect.METRICS:
            assert row[key] == summary[key]
        assert row["task.name"] == "simulated" and row["strategy.name"] == "best_of_n"
        assert row["source"] == "run" and row["git_commit"] == summary["provenance"]["git_commit"]
    assert {(r["policy.name"], r["strategy.n"]) for r in result.rows} == {
        ("simulated", 2),
        ("simulated", 4),
        ("sim_large", 2),
        ("sim_large", 4),
    }
    columns = set(result.rows[0])
    assert set(collect.IDENTITY) <= columns
    assert {"policy.step_error", "policy.model.hidden_size"} <= columns  # vary between the two policies
    assert "n_problems" in columns and "policy.max_tokens" not in columns  # the latter never varies


def test_every_bad_job_gets_one_clear_message(sweep):
    messages = collect.collect(sweep).messages
    text = "\n".join(messages)
    assert "zero problems (n_problems=0)" in text
    assert "failed before its first problem (no results.jsonl): error: strategy.n must be a positive integer" in text
    assert "no error in run.log, so it was killed" in text
    assert "killed: unfinished (5 problems in results.jsonl, no summary.json)" in text
    assert "mixed tasks: left out 1 job(s) of task 'other_task'" in text and "--task other_task" in text
    assert len(messages) == 4


def test_task_choice_collects_the_other_task(sweep):
    result = collect.collect(sweep, task="other_task")
    assert [r["job"] for r in result.rows] == ["foreign"]
    with pytest.raises(ValueError, match="no finished job of that task"):
        collect.collect(sweep, task="nope")


def test_subsampled_curves_and_difficulty_levels(sweep):
    result = collect.collect(sweep, draws=16)
    by_policy = {}
    for row in result.curves:
        by_policy.setdefault(row["policy.name"], set()).add((row["strategy.selector"], row["strategy.n"]))
    # from each policy's widest (n=4, weighted) job: the selectors and widths no real job has
    assert by_policy["simulated"] == {
        ("majority", 1),
        ("majority", 2),
        ("majority", 4),
        ("weighted", 1),
        ("best", 1),
        ("best", 2),
        ("best", 4),
        ("pass@n", 1),
        ("pass@n", 2),
        ("pass@n", 4),
    }
    assert all(r["source"].startswith("subsample of ") and r["wall_s"] is None for r in result.curves)
    levels = {r["difficulty"] for r in result.levels}
    assert levels and all(level.startswith("level ") for level in levels)
    row = result.rows[0]
    parts = [r for r in result.levels if r["job"] == row["job"] and r["source"] == "run"]
    assert sum(r["n_problems"] for r in parts) == row["n_problems"]
    assert sum(r["accuracy"] * r["n_problems"] for r in parts) == pytest.approx(row["accuracy"] * row["n_problems"])


def test_quantile_bins_hardest_first():
    bins = difficulty.quantile_bins({f"p{i}": i / 10 for i in range(10)})
    assert bins["p0"] == bins["p1"] == "bin 1" and bins["p9"] == "bin 5"


def test_difficulty_falls_back_to_single_sample_accuracy_bins(sweep):
    jobs = [j for j in collect.collect(sweep).jobs if j.config["policy"]["name"] == "simulated"]
    for job in jobs:
        job.records = [{**r, "level": None} for r in job.records]
    messages = []
    pass1 = {"simulated": {r["problem_id"]: i / 12 for i, r in enumerate(jobs[0].records)}}
    labels = difficulty.difficulty_of(jobs, pass1, messages)
    first = jobs[0].records
    assert (
        labels["simulated"][first[0]["problem_id"]] == "bin 1"
        and labels["simulated"][first[-1]["problem_id"]] == "bin 5"
    )
    assert difficulty.difficulty_of(jobs, {}, messages) == {} and "no difficulty split" in messages[-1]


def test_cli_writes_tables_and_rejects_a_missing_folder(sweep, tmp_path, capsys):
    collect.main([str(sweep), "--draws", "8"])
    out = capsys.readouterr()
    assert "collected 4 jobs" in out.out and "zero problems" in out.err
    with (sweep / "collected.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert (
        len(rows) == 4
        and float(rows[0]["accuracy"]) == json.loads((sweep / "collected.json").read_text())[0]["accuracy"]
    )
    with pytest.raises(SystemExit) as exit_info:
        collect.main([str(tmp_path / "missing")])
    assert exit_info.value.code == 2
    assert "no such sweep folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no finished job under"):
        collect.collect(empty)
