"""`make demo`: a preset sweep, then collect, analyze and plot; prints where everything is.

    python -m infscale.experiments.studies.demo [--experiment pareto_toy_sum] [--dir .] [--docs docs/pareto.png]
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
4. `infscale-collect`, `infscale-analyze`, `infscale-plot` on that folder; the plot is
   also copied to `docs/pareto.png` (the default preset, pareto_toy_sum) or `docs/<preset>.png`;
5. `infscale-report` on that folder: `multirun/<preset>/report.html` (path printed);
6. for the default preset at its full size: the tables the README's verdicts come from
   (compute-optimal and verdicts, both FLOP conventions) copied to `docs/demo/`, and the
   generated headline block of README.md and docs/model_card.md rewritten from them
   (`infscale-headline`, experiments/analysis/headline.py).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import OmegaConf

from infscale.experiments.analysis import analyze, collect, headline, plot, report
from infscale.experiments.app import errors
from infscale.experiments.app.resolvers import package_path

DEFAULT_EXPERIMENT = "pareto_toy_sum"
VERDICT_PAGES = ("README.md", "docs/model_card.md")


def sweep(root: Path, experiment: str, *overrides: str, rerun: str = "make demo") -> None:
    """`infscale-run -m +experiment=<experiment> <overrides>` in `root`; a failure ends the
    program with a line saying that `rerun` resumes it."""
    command = [str(Path(sys.executable).parent / "infscale-run"), "-m", f"+experiment={experiment}", *overrides]
    print("$ infscale-run " + " ".join(command[1:]), flush=True)
    done = subprocess.run(command, cwd=root)
    if done.returncode != 0:
        raise SystemExit(f"the sweep failed (exit {done.returncode}); rerun `{rerun}` to resume it")


def first_swept_reward(experiment: str) -> str | None:
    """The first reward a preset's own sweep lists, or None where it sweeps none."""
    path = Path(package_path(f"conf/experiment/{experiment}.yaml"))
    if not path.exists():
        raise ValueError(f"--experiment {experiment}: no such preset (no {path})")
    rewards = OmegaConf.select(OmegaConf.load(path), "hydra.sweeper.params.reward")
    return str(rewards).split(",")[0].strip() if rewards else None


def publish_verdicts(folder: Path, root: Path) -> list[Path]:
    """The headline's tables copied to `<root>/docs/demo/`, and the headline block of every page
    of VERDICT_PAGES under `root` that has one rewritten from them."""
    tables = root / "docs" / "demo"
    tables.mkdir(parents=True, exist_ok=True)
    written = []
    for path in headline.sources(folder):
        written.append(Path(shutil.copyfile(path, tables / path.name)))
    text = headline.block(tables)
    for page in (root / name for name in VERDICT_PAGES):
        if page.exists() and headline.START in page.read_text():
            page.write_text(headline.replace(page.read_text(), text, str(page)))
            written.append(page)
    return written


@errors.command("infscale-demo")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="infscale-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help="a preset in conf/experiment/")
    parser.add_argument(
        "--dir", type=Path, default=Path.cwd(), help="where multirun/ and docs/ go (default: the current directory)"
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=None,
        help="where to copy the plot (default docs/pareto.png, or docs/<preset>.png for another preset)",
    )
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
    if args.docs is None:
        args.docs = (
            args.dir / "docs" / ("pareto.png" if args.experiment == DEFAULT_EXPERIMENT else f"{args.experiment}.png")
        )
    started = time.perf_counter()
    folder = args.dir / "multirun" / args.experiment
    reward = first_swept_reward(args.experiment)
    one_reward = [f"reward={reward}"] if reward else []
    sweep(args.dir, args.experiment, *size)
    if args.sampling_n:
        sweep(args.dir, args.experiment, "strategy=best_of_n", f"strategy.n={args.sampling_n}", *one_reward, *size)
    if not args.no_greedy:
        sweep(args.dir, args.experiment, "strategy=greedy", "strategy.n=1", *one_reward, *size)
    swept = time.perf_counter()
    collection = collect.collect(folder)
    collect.report(collection)
    tables = collect.write_collection(collection, folder)
    result = analyze.analyze(folder)
    analyze.print_report(result, "flops_total")
    png = plot.plot(folder)[0]
    html = report.build(folder)
    args.docs.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, args.docs)
    paper = folder / "pareto_flops_paper.png"  # the same in Wu et al.'s convention, written by analyze
    if paper.exists():
        shutil.copyfile(paper, args.docs.with_name(args.docs.stem + "_flops_paper.png"))
    verdicts = []
    if args.experiment == DEFAULT_EXPERIMENT and args.n_problems is None:
        verdicts = publish_verdicts(folder, args.dir)
    total = time.perf_counter() - started
    print(f"\ndemo done in {total:.0f} s (sweep {swept - started:.0f} s, analysis {total - (swept - started):.0f} s)")
    print(f"  sweep folder      {folder}")
    for path in tables:
        print(f"  table             {path}")
    for path in result["files"]:
        print(f"  table             {path}")
    print(f"  Pareto plot       {png}")
    print(f"  copied to         {args.docs} (and {args.docs.stem}_flops_paper.png beside it)")
    print(f"  report            {html}")
    for path in verdicts:
        print(f"  verdicts          {path}")


if __name__ == "__main__":
    main()
