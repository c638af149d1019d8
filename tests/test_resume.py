"""Kills at 20 points of a run, each followed by the same command again, end with results
identical to an uninterrupted run's (every field but wall_s): nothing lost, nothing twice.
SIGINT and SIGTERM stop with one line and exit 130 / 143, keeping every finished problem."""

import json
import os
import random
import signal
import subprocess
import time

import pytest

from tests.conftest import BIN

pytestmark = pytest.mark.slow

# Enough problems that the 20 kill points land inside the run on a quiet machine too: each point
# lets the run go 20 results past where the last one left it (plus <= 0.1 s and, for SIGINT and
# SIGTERM, the in-flight problems it drains), about 50 results a point at 200 problems/s.
PROBLEMS = 1500
ARGS = [
    "task=simulated",
    "policy=simulated",
    "reward=simulated",
    "strategy=rebase",
    "strategy.n=8",
    f"task.n={PROBLEMS}",
    "seed=3",
    "engine.max_concurrent=64",
    "progress=false",
]


def _records(folder):
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


def _without_wall(records):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]


def _lines(folder):
    path = folder / "results.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _launch(folder, scheduler="lockstep"):
    command = [str(BIN / "infscale-run"), *ARGS, f"engine.scheduler={scheduler}", f"hydra.run.dir={folder}"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _kill_when(process, folder, lines, extra_s, signum):
    """Send `signum` once `lines` results are on disk plus `extra_s` (or at once if lines < 0)."""
    deadline = time.monotonic() + 120
    while lines >= 0 and _lines(folder) < lines and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(extra_s)
    if process.poll() is None:
        os.killpg(process.pid, signum)
    return process.communicate(timeout=120)


@pytest.mark.parametrize("scheduler", ["lockstep", "continuous"])
def test_twenty_random_kills_and_resumes_end_identical_to_an_uninterrupted_run(tmp_path, scheduler):
    # the uninterrupted run is lockstep's; the killed and resumed ones run under `scheduler`
    clean = _launch(tmp_path / "clean")
    clean.communicate(timeout=300)
    assert clean.returncode == 0
    reference = _records(tmp_path / "clean")

    folder, rng, interrupted = tmp_path / "killed", random.Random(16), 0
    for point in range(20):
        signum = signal.SIGKILL if point % 2 else rng.choice([signal.SIGINT, signal.SIGTERM])
        # points spread over the run: while starting (0.2-2 s after launch), else 20 results on
        lines = -1 if point % 5 == 0 else _lines(folder) + 20
        process = _launch(folder, scheduler)
        _, stderr = _kill_when(
            process, folder, lines, rng.uniform(0.2, 2.0) if lines < 0 else rng.uniform(0, 0.1), signum
        )
        assert "Traceback" not in stderr, stderr
        if process.returncode == 0 or (folder / "summary.json").exists():
            continue  # the run finished before the signal (or it came while the interpreter shut down)
        if process.returncode == -signum and not stderr:
            continue  # the signal came while the interpreter itself started, before any of our code ran
        interrupted += 1
        expected = {signal.SIGKILL: -9, signal.SIGINT: 130, signal.SIGTERM: 143}[signum]
        assert process.returncode == expected, (point, lines, _lines(folder), stderr)
        if signum != signal.SIGKILL:
            last = stderr.strip().splitlines()[-1]
            assert last.startswith(f"infscale-run: interrupted by {signum.name}"), stderr
            if f" of {PROBLEMS} problems are saved" in last:
                assert int(last.split(": ")[2].split(" of ")[0]) == _lines(folder)
        ids = [r["problem_id"] for r in _records(folder)] if _lines(folder) else []
        assert len(ids) == len(set(ids))
    assert interrupted >= 15  # a point may still land in interpreter startup or after a fast finish
    final = _launch(folder, scheduler)
    final.communicate(timeout=300)
    assert final.returncode == 0
    after = _records(folder)
    assert len(after) == PROBLEMS and _without_wall(after) == _without_wall(reference)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["n_problems"] == PROBLEMS
    assert summary["accuracy"] == json.loads((tmp_path / "clean" / "summary.json").read_text())["accuracy"]
