"""`make demo`: a preset sweep, then collect, analyze and plot; prints where everything is.

    python -m infscale.experiments.studies.demo [--experiment pareto_toy_sum] [--dir .] [--docs PNG]
        [--n-problems N]

1. `infscale-run -m +experiment=<preset>`: the sweep (resumes if interrupted: the sweep
   folder `multirun/<preset>` and every job folder are fixed by the config);
2. `infscale-run -m +experiment=<preset> strategy=best_of_n strategy.n=<N_max>`: one
   weighted best-of-N job per policy, whose samples give every smaller width and both
   voting curves by subsampling (a no-op when the preset's grid already holds that job);
3. `infscale-run -m +experiment=<preset> strategy=greedy strategy.n=1`: the greedy
   reference of each policy, into the same folder; where the preset sweeps several rewards
   (pareto_toy_sum: the learned PRM and the oracle charged as it), steps 2 and 3 use the
   first one listed, the learned PRM: the sampling curves are the learned PRM's and greedy
   needs no verifier;
4. `infscale-collect`, `infscale-analyze`, `infscale-plot` on that folder (the plot copied to
   `--docs` when given);
5. `infscale-report` on that folder: `multirun/<preset>/report.html` (path printed).

The demo writes nothing outside `multirun/`: the figures and tables the README shows come
from the 1,100-problem sweep of the same grid, `make figures` (experiments/studies/figures.py).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from infscale.experiments.analysis import analyze, collect, plot, report
from infscale.experiments.app import errors
from infscale.experiments.app.resolvers import package_path

DEFAULT_EXPERIMENT = "pareto_toy_sum"


def sweep(root: Path, experiment: str, *overrides: str, rerun: str = "make demo") -> None:
    """`infscale-run -m +experiment=<experiment> <overrides>` in `root`; a failure ends the
    program with a line saying that `rerun` resumes it."""
    command = [str(Path(sys.executable).parent / "infscale-run"), "-m", f"+experiment={experiment}", *overrides]
    print("$ infscale-run " + " ".join(command[1:]), flush=True)
    done = subprocess.run(command, cwd=root)
    if done.returncode != 0:
        raise SystemExit(f"the sweep failed (exit {done.returncode}); rerun `{rerun}` to resume it")


def first_swept_reward(experiment: str) -> str | None:
    """The first reward a preset's sweep lists (its own, else that of the preset it extends
    through its defaults list), or None where none sweeps one."""
    path = Path(package_path(f"conf/experiment/{experiment}.yaml"))
    if not path.exists():
        raise ValueError(f"--experiment {experiment}: no such preset (no {path})")
    preset = OmegaConf.load(path)
    rewards = OmegaConf.select(preset, "hydra.sweeper.params.reward")
    if rewards:
        return str(rewards).split(",")[0].strip()
    parents = [d for d in preset.get("defaults", []) if isinstance(d, str) and d not in ("_self_",)]
    return first_swept_reward(parents[0]) if parents else None


def run_grid(root: Path, experiment: str, size: list[str], sampling_n: int, greedy: bool, rerun: str) -> Path:
    """Steps 1-3: the preset's sweep, its sampling job and its greedy references; the folder."""
    reward = first_swept_reward(experiment)
    one_reward = [f"reward={reward}"] if reward else []
    sweep(root, experiment, *size, rerun=rerun)
    if sampling_n:
        sweep(root, experiment, "strategy=best_of_n", f"strategy.n={sampling_n}", *one_reward, *size, rerun=rerun)
    if greedy:
        sweep(root, experiment, "strategy=greedy", "strategy.n=1", *one_reward, *size, rerun=rerun)
    return root / "multirun" / experiment


def analyse(folder: Path) -> dict[str, Any]:
    """Steps 4-5 on a sweep folder: its tables, figures and report, as paths."""
    collection = collect.collect(folder)
    collect.report(collection)
    tables = collect.write_collection(collection, folder)
    result = analyze.analyze(folder)
    analyze.print_report(result, "flops_total")
    return {"tables": [*tables, *result["files"]], "plot": plot.plot(folder)[0], "report": report.build(folder)}


@errors.command("infscale-demo")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="infscale-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help="a preset in conf/experiment/")
    parser.add_argument(
        "--dir", type=Path, default=Path.cwd(), help="where multirun/ goes (default: the current directory)"
    )
    parser.add_argument("--docs", type=Path, default=None, help="also copy the Pareto plot there")
    parser.add_argument("--sampling-n", type=int, default=64, help="width of the best-of-N job to subsample (0: none)")
    parser.add_argument("--no-greedy", action="store_true", help="skip the greedy reference jobs")
    parser.add_argument(
        "--n-problems",
        type=int,
        default=None,
        help="every job on the first N problems only: a quick pass through every step (the preset's size otherwise)",
    )
    args = parser.parse_args(argv)
    size = [] if args.n_problems is None else [f"n_problems={args.n_problems}"]
    started = time.perf_counter()
    folder = run_grid(args.dir, args.experiment, size, args.sampling_n, not args.no_greedy, "make demo")
    swept = time.perf_counter()
    outputs = analyse(folder)
    if args.docs is not None:
        args.docs.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(outputs["plot"], args.docs)
    total = time.perf_counter() - started
    print(f"\ndemo done in {total:.0f} s (sweep {swept - started:.0f} s, analysis {total - (swept - started):.0f} s)")
    print(f"  sweep folder      {folder}")
    for path in outputs["tables"]:
        print(f"  table             {path}")
    print(f"  Pareto plot       {outputs['plot']} (and pareto_flops_paper.png beside it)")
    if args.docs is not None:
        print(f"  copied to         {args.docs}")
    print(f"  report            {outputs['report']}")


if __name__ == "__main__":
    main()
