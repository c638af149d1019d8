"""The offline voting table of `math_cot_100` (docs/math_cot_100.md): majority, best-of-n
and weighted voting for n = 1, 2, 4, 8 through the ordinary run path (`policy=replay
reward=replay strategy=best_of_n`), and pass@n, each with a 95% bootstrap CI over problems.

For n < 8 each selector runs with `policy.order=seeded` over `--seeds` run seeds (each seed
plays another window of n of the 8 recordings per problem) and a problem's accuracy is its
mean over the seeds; n = 8 plays all recordings in the recorded order. pass@n is the
unbiased estimator 1 - C(8 - c, n) / C(8, n) from the c of 8 recordings math-verify grades
correct.

    python -m infscale.experiments.studies.math_cot_100_table [--seeds 8]      # print it
    python -m infscale.experiments.studies.math_cot_100_table --write README.md docs/math_cot_100.md

`--write` replaces the pages' generated `math_cot_100` block (`make figures` does).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_module

from infscale.experiments.analysis import blocks
from infscale.experiments.app import resolvers
from infscale.experiments.app.build import load
from infscale.experiments.app.run import run
from infscale.experiments.stats import bootstrap_ci

SELECTORS = ("majority", "best", "weighted")
WIDTHS = (1, 2, 4, 8)


def per_problem(selector: str, n: int, seeds: int, root: Path) -> list[float]:
    """Each problem's accuracy for (selector, n), averaged over the seeds when n < 8."""
    resolvers.register()
    runs = [("recorded", 0)] if n == 8 else [("seeded", s) for s in range(seeds)]
    totals: dict[str, float] = {}
    for order, seed in runs:
        overrides = [
            "task=math_cot_100",
            "policy=replay",
            "reward=replay",
            "strategy=best_of_n",
            "progress=false",
            f"strategy.n={n}",
            f"strategy.selector={selector}",
            f"policy.order={order}",
            f"seed={seed}",
        ]
        with initialize_config_module(config_module="infscale.conf", version_base=None):
            cfg = compose(config_name="config", overrides=overrides)
        folder = root / f"{selector}-n{n}-{order}-s{seed}"
        run(cfg, folder)
        for line in (folder / "results.jsonl").read_text().splitlines():
            record = json.loads(line)
            totals[record["problem_id"]] = totals.get(record["problem_id"], 0.0) + float(record["correct"])
    return [v / len(runs) for v in totals.values()]


def pass_at(n: int) -> list[float]:
    task = load("task", "math_cot_100")
    values = []
    for problem in task.problems():
        recordings = task.recordings(problem.prompt)
        k = len(recordings)
        c = sum(task.is_correct(task.extract_answer(r.text), problem.reference) for r in recordings)
        values.append(1.0 - math.comb(k - c, n) / math.comb(k, n))
    return values


def cell(values: list[float]) -> str:
    lo, hi = bootstrap_ci(values)
    mean = sum(values) / len(values)
    return f"{100 * mean:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def table(seeds: int) -> str:
    rows = ["| n | majority | best-of-n (ORM) | weighted (ORM) | pass@n |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for n in WIDTHS:
            cells = [cell(per_problem(selector, n, seeds, Path(tmp))) for selector in SELECTORS]
            rows.append(f"| {n} | " + " | ".join(cells) + f" | {cell(pass_at(n))} |")
    return "\n".join(rows)


BLOCK = "math_cot_100"
PAGES = ("README.md", "docs/math_cot_100.md")  # the pages that carry the block
COMMAND = f"python -m infscale.experiments.studies.math_cot_100_table --write {' '.join(PAGES)}"


def block(seeds: int = 8) -> str:
    return blocks.wrap(BLOCK, COMMAND, table(seeds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--write", type=Path, nargs="*", default=[], help="pages whose math_cot_100 block to replace")
    args = parser.parse_args()
    text = block(args.seeds)
    blocks.write_pages(args.write, BLOCK, text)
    if not args.write:
        print(text)


if __name__ == "__main__":
    main()
