"""Run-folder integrity: one run at a time, the configuration remembered and checked, problems
written as they finish and ordered at the end, corrupt lines named by file:line."""

import json
import os
import socket
import subprocess

import pytest

from infscale.experiments.app.run import run
from infscale.experiments.app.store import RunStore
from tests.conftest import BIN, read_results, run_cli
from tests.engine_helpers import load, simulated_engine, strategy

SMALL = ("strategy=rebase", "strategy.n=4", "n_problems=20", "seed=1")


def test_problems_come_out_as_they_finish_and_the_file_ends_in_problem_order(config, tmp_path, monkeypatch):
    task = load("task", "simulated", n=40)
    engine = simulated_engine(task=task, max_concurrent=40)
    order = [o.problem.id for o in engine.run(task.problems(), strategy("rebase", task, n=8), ordered=False)]
    assert sorted(order) == sorted(p.id for p in task.problems()) and order != [p.id for p in task.problems()]

    appended = []
    monkeypatch.setattr(RunStore, "append", lambda self, r, real=RunStore.append: (appended.append(r), real(self, r)))
    run(config(*SMALL[:3], "n_problems=40", "engine.max_concurrent=40"), tmp_path)
    ids = [r["problem_id"] for r in read_results(tmp_path)]
    assert ids == [p.id for p in task.problems()] and [r["problem_id"] for r in appended] != ids


def test_stop_hook_ends_the_engine_without_unfinished_problems():
    task = load("task", "simulated", n=30)
    engine = simulated_engine(task=task, max_concurrent=30)
    outcomes = []
    for outcome in engine.run(task.problems(), strategy("rebase", task, n=8), stop=lambda: len(outcomes) >= 5):
        outcomes.append(outcome)
    assert 5 <= len(outcomes) < 30 and all(o.decision is not None for o in outcomes)
    assert engine.calls["policy"] > 0


@pytest.mark.slow
def test_second_run_on_a_locked_folder_stops_at_once_naming_the_holder(tmp_path):
    holder = RunStore(tmp_path)
    holder.lock()
    try:
        done = run_cli(*SMALL, f"hydra.run.dir={tmp_path}", "progress=false")
    finally:
        holder.release()
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"is in use by pid {os.getpid()} on {socket.gethostname()}" in done.stderr
    assert not (tmp_path / "results.jsonl").exists()


@pytest.mark.slow
def test_two_concurrent_launches_one_refuses_and_nothing_is_doubled(tmp_path):
    args = [str(BIN / "infscale-run"), "task=simulated", "policy=simulated", "reward=simulated", "strategy=rebase"]
    args += ["strategy.n=16", "task.n=1000", "progress=false", f"hydra.run.dir={tmp_path}"]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes == [0, 2], outputs
    refused = outputs[[first.returncode, second.returncode].index(2)][1]
    assert "is in use by pid" in refused and refused.count("\n") == 1
    ids = [r["problem_id"] for r in read_results(tmp_path)]
    assert len(ids) == len(set(ids)) == 1000


def test_other_configuration_on_an_old_folder_refuses_naming_the_keys(config, tmp_path):
    run(config(*SMALL), tmp_path)
    before = (tmp_path / "results.jsonl").read_bytes()
    with pytest.raises(ValueError, match=r"differs in .*strategy.n: 4 -> 16.*strategy.name: rebase -> best_of_n"):
        run(config("strategy=best_of_n", "strategy.n=16", "n_problems=20", "seed=1"), tmp_path)
    assert (tmp_path / "results.jsonl").read_bytes() == before
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["provenance"]["config"]["strategy"]["name"] == "rebase"
    run(config(*SMALL, "engine.max_batch=7", "progress=true"), tmp_path)  # how it runs is not what it computes


def test_rerun_of_a_finished_folder_is_identical(config, tmp_path):
    first = run(config(*SMALL), tmp_path)
    records = read_results(tmp_path)
    again = run(config(*SMALL), tmp_path)
    assert read_results(tmp_path) == records and again["accuracy"] == first["accuracy"]


def _corrupt(path, line, data):
    lines = path.read_bytes().splitlines(keepends=True)
    lines[line - 1] = data
    path.write_bytes(b"".join(lines))


@pytest.mark.parametrize(
    "data, message",
    [
        (b'{"problem_id": "sim-0-00004", "correct": tr\n', "results.jsonl:5: unreadable line"),
        (b'{"problem_id": "sim-\xff\xfe"}\n', "results.jsonl:5: unreadable line (not UTF-8)"),
        (b"[1, 2]\n", "results.jsonl:5: unreadable line"),
        (None, "results.jsonl:5: problem 'sim-0-00000' is already on line 1"),
    ],
)
def test_a_corrupt_line_in_the_middle_stops_with_file_and_line(config, tmp_path, data, message):
    run(config(*SMALL), tmp_path)
    path = tmp_path / "results.jsonl"
    _corrupt(path, 5, data if data is not None else path.read_bytes().splitlines(keepends=True)[0])
    before = path.read_bytes()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        run(config(*SMALL), tmp_path)
    assert "\n" not in str(error.value) and path.read_bytes() == before


def test_a_torn_last_line_is_cut_and_recomputed(config, tmp_path):
    run(config(*SMALL), tmp_path)
    reference = read_results(tmp_path)
    path = tmp_path / "results.jsonl"
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 700])  # the last record loses its end and its newline
    (tmp_path / "summary.json").unlink()
    run(config(*SMALL), tmp_path)
    strip = [{k: v for k, v in r.items() if k != "wall_s"} for r in read_results(tmp_path)]
    assert strip == [{k: v for k, v in r.items() if k != "wall_s"} for r in reference]


def test_streamed_summary_matches_the_records(config, tmp_path):
    summary = run(config(*SMALL), tmp_path)
    records = read_results(tmp_path)
    assert summary["n_problems"] == 20
    assert summary["accuracy"] == pytest.approx(sum(r["correct"] for r in records) / 20)
    assert summary["flops_total"] == pytest.approx(sum(r["flops"]["total"] for r in records) / 20, rel=1e-12)
    assert summary["tokens_generated"] == pytest.approx(sum(r["tokens"]["generated"] for r in records) / 20)


@pytest.mark.slow
def test_n_problems_above_the_task_size_warns_with_the_real_count(tmp_path):
    done = run_cli("strategy=rebase", "strategy.n=2", "task.n=5", "n_problems=100000", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert "n_problems=100000 but task 'simulated' has 5 problems: running all 5" in done.stderr
    assert "5 problems (0 already finished, 5 to run) x strategy.n=2 x up to 1024 tokens" in done.stderr
    assert json.loads((tmp_path / "summary.json").read_text())["n_problems"] == 5
    assert "n_problems=100000 but task" in (tmp_path / "run.log").read_text()


def test_a_folder_from_before_run_config_json_is_checked_against_its_summary(config, tmp_path):
    run(config(*SMALL), tmp_path)
    (tmp_path / "run_config.json").unlink()
    with pytest.raises(ValueError, match=r"another configuration \(differs in .*strategy.name: rebase -> best_of_n"):
        run(config("strategy=best_of_n", "strategy.n=4", "n_problems=20", "seed=1"), tmp_path)
