"""A run killed with SIGKILL mid-way and started again with the same command ends with the
same results.jsonl as an uninterrupted run (every field but wall_s), nothing twice."""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import BIN, REPO

pytestmark = pytest.mark.slow

ARGS = [
    "task=simulated",
    "policy=simulated",
    "reward=simulated",
    "strategy=rebase",
    "strategy.n=8",
    "n_problems=120",
    "seed=3",
    "engine.max_concurrent=2",
    "progress=false",
]


def _records(folder):
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


def _without_wall(records):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]


def _only_run_folder(cwd):
    folders = [p.parent for p in (cwd / "outputs").rglob("results.jsonl")]
    assert len(folders) == 1, folders
    return folders[0]


def test_sigkill_then_same_command_resumes_to_identical_results(tmp_path):
    killed_cwd, clean_cwd = tmp_path / "killed", tmp_path / "clean"
    killed_cwd.mkdir()
    clean_cwd.mkdir()
    command = [str(BIN / "infscale-run"), *ARGS]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        command, cwd=killed_cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    lines = 0
    while time.monotonic() < deadline and process.poll() is None:
        results = list((killed_cwd / "outputs").rglob("results.jsonl")) if (killed_cwd / "outputs").exists() else []
        lines = results[0].read_bytes().count(b"\n") if results else 0
        if lines >= 5:
            os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    folder = _only_run_folder(killed_cwd)
    assert not (folder / "summary.json").exists()
    partial = folder.joinpath("results.jsonl").read_text().splitlines()
    assert 5 <= len(partial) < 120

    resumed = subprocess.run(command, cwd=killed_cwd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    clean = subprocess.run(command, cwd=clean_cwd, env=env, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr

    assert _only_run_folder(killed_cwd).name == _only_run_folder(clean_cwd).name  # folder derived from the config
    after, reference = _records(folder), _records(_only_run_folder(clean_cwd))
    ids = [r["problem_id"] for r in after]
    assert len(ids) == len(set(ids)) == 120
    assert _without_wall(after) == _without_wall(reference)
    assert [json.loads(line) for line in partial[:-1]] == after[: len(partial) - 1]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["n_problems"] == 120
    assert summary["accuracy"] == json.loads((_only_run_folder(clean_cwd) / "summary.json").read_text())["accuracy"]
