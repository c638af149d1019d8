"""Peak memory of `infscale-run` against the number of problems: REBASE n = 16 on the
simulated world, 1,000 and 10,000 problems, each size in a fresh process (peak resident set
of the child, `getrusage(RUSAGE_CHILDREN)` read in a wrapper that runs only that child).

    python -m infscale.experiments.bench.memory [--sizes 1000 10000] [--bin PATH ...]

`--bin` takes one or more `infscale-run` executables (e.g. the main branch's beside this
one's) so that before and after are measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WRAPPER = (
    "import resource, subprocess, sys; "
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); "
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
    "sys.stderr.write(done.stderr[-2000:] if done.returncode else '')"
)


def peak_mb(binary: str, problems: int, folder: Path, extra: list[str]) -> tuple[float, float]:
    """(peak resident MB, wall seconds) of one run of `problems` problems."""
    command = [binary, "task=simulated", "policy=simulated", "reward=simulated", "strategy=rebase"]
    command += ["strategy.n=16", f"task.n={problems}", "seed=0", "progress=false", f"hydra.run.dir={folder}", *extra]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    code, kilobytes = done.stdout.split()
    if code != "0":
        raise SystemExit(f"{binary} failed on {problems} problems: {done.stderr}")
    return int(kilobytes) / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--bin", nargs="+", default=[str(Path(sys.executable).parent / "infscale-run")])
    parser.add_argument("override", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for binary in args.bin:
            peaks = {}
            for size in args.sizes:
                mb, seconds = peak_mb(binary, size, Path(tmp) / f"{len(rows)}-{size}", args.override)
                peaks[size] = mb
                rows.append({"bin": binary, "problems": size, "peak_mb": round(mb, 1), "wall_s": round(seconds, 1)})
                print(json.dumps(rows[-1]), flush=True)
            ratio = peaks[max(args.sizes)] / peaks[min(args.sizes)]
            print(f"{binary}: peak at {max(args.sizes)} problems / at {min(args.sizes)} = {ratio:.2f}x", flush=True)
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
