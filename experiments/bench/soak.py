"""Soak: one long simulated run (REBASE, n = 4 by default) killed and resumed again and again, with
backend errors injected, against the same run uninterrupted. Reports problems lost,
problems written twice, and whether the final results equal the uninterrupted run's
(every field but wall_s).

    python -m infscale.experiments.bench.soak [--problems 10000] [--kills 20] [--seed 0]

Each launch is a fresh `infscale-run` process (signals handled as the command handles
them). A kill is SIGKILL, SIGINT or SIGTERM, sent while the run starts or after a random
number of new results. Backend errors: in each launch, with probability `--error-rate`, the
simulated policy raises `BackendError` at a random call, which ends that launch with exit 2
as a dead server would; the next launch resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORLD = ["task=simulated", "policy=simulated", "reward=simulated", "strategy=rebase", "seed=0"]


def worker(fail_at: int, overrides: list[str]) -> None:
    """`infscale-run overrides...`, with the simulated policy failing at call `fail_at` (0: never)."""
    from infscale.experiments.app import launch

    for signum in (signal.SIGINT, signal.SIGTERM):  # as the command does, before the imports below
        signal.signal(signum, launch._before_the_run)
    from infscale.policies.simulated import SimulatedPolicy
    from infscale.search.backends import BackendError

    generate, calls = SimulatedPolicy.generate, [0]

    def faulty(self, requests):
        calls[0] += 1
        if calls[0] == fail_at:
            raise BackendError(f"policy '{self.name}': injected failure at call {fail_at}")
        return generate(self, requests)

    SimulatedPolicy.generate = faulty
    sys.argv = ["infscale-run", *overrides]
    launch.main()


def launch(folder: Path, problems: int, n: int, fail_at: int) -> subprocess.Popen:
    overrides = [*WORLD, f"strategy.n={n}", f"task.n={problems}", "progress=false", f"hydra.run.dir={folder}"]
    command = [sys.executable, "-m", "infscale.experiments.bench.soak", "--worker", str(fail_at), *overrides]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def lines(folder: Path) -> int:
    path = folder / "results.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def records(folder: Path) -> list[dict]:
    with (folder / "results.jsonl").open() as handle:
        return [{k: v for k, v in json.loads(line).items() if k != "wall_s"} for line in handle]


def soak(problems: int, n: int, kills: int, error_rate: float, seed: int, root: Path) -> dict:
    from infscale.experiments.app.store import provenance_of

    rng = random.Random(seed)
    started = time.perf_counter()
    clean = launch(root / "clean", problems, n, 0)
    _, err = clean.communicate()
    if clean.returncode != 0:
        raise SystemExit(f"the uninterrupted run failed: {err}")
    clean_s = time.perf_counter() - started
    calls = provenance_of(json.loads((root / "clean" / "summary.json").read_text()))["engine_calls"]["policy"]

    folder, counts, launches = root / "soaked", {"SIGKILL": 0, "SIGINT": 0, "SIGTERM": 0}, 0
    injected, started, finished, codes = 0, time.perf_counter(), False, {}
    while not finished:
        # a failure early enough to come before this launch's kill (about calls / (2 kills) calls)
        fail_at = rng.randint(1, max(1, calls // (2 * kills))) if rng.random() < error_rate else 0
        process, launches = launch(folder, problems, n, fail_at), launches + 1
        if sum(counts.values()) < kills:
            signum = rng.choice([signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
            if rng.random() < 0.2:  # while starting
                time.sleep(rng.uniform(1.0, 4.0))
            else:
                target = lines(folder) + rng.randint(1, max(2, problems // (2 * kills)))
                while lines(folder) < target and process.poll() is None:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0, 0.3))
            if process.poll() is None:
                process.send_signal(signum)
                counts[signum.name] += 1
        _, err = process.communicate()
        codes[process.returncode] = codes.get(process.returncode, 0) + 1
        if process.returncode == 2 and "injected failure" in err:
            injected += 1
        # -15 / -2: the signal came before the handlers were installed or after they were
        # removed at interpreter shutdown; either way the process died of the signal sent
        elif process.returncode not in (0, -9, -15, -2, 130, 143):
            raise SystemExit(f"launch {launches} ended with {process.returncode}: {err[-2000:]}")
        finished = process.returncode == 0
    soaked_s = time.perf_counter() - started

    reference, after = records(root / "clean"), records(folder)
    ids = [r["problem_id"] for r in after]
    return {
        "problems": problems,
        "strategy": f"rebase n={n}",
        "kills": counts,
        "injected_backend_errors": injected,
        "launches": launches,
        "exit_codes": {str(k): v for k, v in sorted(codes.items())},
        "lost": len({r["problem_id"] for r in reference} - set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "identical_to_uninterrupted": after == reference,
        "summary_accuracy_equal": json.loads((folder / "summary.json").read_text())["accuracy"]
        == json.loads((root / "clean" / "summary.json").read_text())["accuracy"],
        "uninterrupted_s": round(clean_s, 1),
        "soaked_s": round(soaked_s, 1),
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=4, help="REBASE width")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--error-rate", type=float, default=0.4, help="chance that a launch meets a backend error")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = soak(args.problems, args.n, args.kills, args.error_rate, args.seed, Path(tmp))
    print(json.dumps(result, indent=1))
    print(f"machine: {platform.platform()}, {os.cpu_count()} cpus, python {platform.python_version()}")


if __name__ == "__main__":
    main()
