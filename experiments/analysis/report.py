"""`infscale-report <multirun dir>`: one self-contained HTML report of a sweep, readable offline.

    infscale-report multirun/pareto_toy [--out report.html] [--draws 1000] [--fit-draws 200]

Collects the sweep (unless `collected.json` is newer than every job), analyzes it in both FLOP
conventions (flops_total and flops_paper), draws the Pareto plot and the papers' figures, and
writes `<sweep>/report.html`: figures embedded as base64 PNG, every search configuration against
the strongest baseline at no more compute and "compute to reach" that baseline, with their paired
95% intervals, the compute-optimal table with ties and each winner against that baseline, the compute-optimal model
size, the scaling fits with their flags, and provenance (jobs, git commits, configs). Every
run that saved its trees (save_trees=true) also gets `<run>/trees.html`, a tree viewer linked
from the report (experiments/analysis/trees.py).

This module prepares the data; the page's markup is templates/report.html (jinja2, autoescaped,
so values are passed raw and escaped exactly once there).
"""

from __future__ import annotations

import argparse
import base64
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2

from infscale.experiments.analysis import analyze, baseline, collect, figures, plot, robust, trees
from infscale.experiments.analysis.headline import summary
from infscale.experiments.app import errors
from infscale.experiments.stats import DRAWS

CONVENTIONS = ("flops_total", "flops_paper")


def _cell(value: Any) -> str:
    """A table cell's text: floats to 3 significant digits, None blank."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("infscale.experiments.analysis", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters["cell"] = _cell


def headline(rows: list[dict[str, Any]], limit: int = 12) -> list[str]:
    """ "A reaches the strongest baseline's best accuracy at r x the compute [interval]", the
    informative rows first."""
    usable = [r for r in rows if r["ratio"] is not None and "greedy" not in r["a"]]
    usable.sort(
        key=lambda r: (analyze.trivial_saving(r), r["ratio_hi"] if r.get("ratio_hi") is not None else r["ratio"])
    )
    return [analyze.saved_sentence(r) for r in usable[:limit]]


def _needs_collect(root: Path) -> bool:
    table = root / "problems.json"
    if not table.exists() or not (root / "collected.json").exists():
        return True
    newest = max((p.stat().st_mtime for p in root.rglob("summary.json")), default=0)
    return newest > table.stat().st_mtime


def build(root: Path, out: Path | None = None, draws: int = DRAWS, fit_draws: int = robust.FIT_DRAWS) -> Path:
    root = Path(root)
    if _needs_collect(root):
        collection = collect.collect(root)
        collect.report(collection)
        collect.write_collection(collection, root)
    results = {x: analyze.analyze(root, x=x, draws=draws, fit_draws=fit_draws) for x in CONVENTIONS}
    images = [
        (plot.plot(root, x=x)[0], f"Accuracy vs compute ({figures.CONVENTION[x]}), Pareto front") for x in CONVENTIONS
    ]
    for x in CONVENTIONS:
        images += [(p, p.stem.replace("_", " ")) for p in figures.all_figures(root, results[x], x)]
    viewers = [
        trees.write_tree_page(run.parent, run.parent.name) for run in sorted(root.rglob("trees")) if run.is_dir()
    ]
    page = render(root, results, images, viewers, draws)
    out = Path(out) if out else root / "report.html"
    out.write_text(page)
    return out


def render(
    root: Path, results: dict[str, dict[str, Any]], images: list[tuple[Path, str]], viewers: list[Path], draws: int
) -> str:
    """The report page (templates/report.html) from the analyses of both conventions."""
    tables = results["flops_total"]["tables"]
    jobs = collect.read_table(root / "collected.json")
    return TEMPLATES.get_template("report.html").render(
        sweep=root.name,
        jobs=jobs,
        tasks=", ".join(sorted({str(j["task.name"]) for j in jobs})),
        generated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        draws=draws,
        headlines=[(figures.CONVENTION[x], headline(results[x]["tables"]["flops_saved"])) for x in CONVENTIONS],
        verdicts=[summary(results[x]["tables"]["verdicts"], x) for x in CONVENTIONS],
        overall=[
            (
                x,
                [
                    r
                    for r in results[x]["tables"]["compute_optimal"]
                    if r["difficulty"] == "all" and r["group"] == "all"
                ],
                baseline.SHORT[x],
            )
            for x in CONVENTIONS
        ],
        per_difficulty=[r for r in tables["compute_optimal"] if r["difficulty"] != "all"],
        sizes=[(x, results[x]["tables"]["optimal_size"], results[x]["size_fit"]) for x in CONVENTIONS],
        scaling_fit=tables["scaling_fit"],
        crossover=tables["crossover"],
        figures=[{"caption": caption, "png": base64.b64encode(path.read_bytes()).decode()} for path, caption in images],
        viewers=[{"href": str(v.relative_to(root)), "run": v.parent.name} for v in viewers],
        messages=results["flops_total"]["messages"],
    )


@errors.command("infscale-report")
def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="infscale-report", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--out", type=Path, help="output HTML (default <sweep>/report.html)")
    parser.add_argument("--draws", type=int, default=DRAWS, help="bootstrap replicates")
    parser.add_argument("--fit-draws", type=int, default=robust.FIT_DRAWS, help="bootstrap refits per scaling fit")
    args = parser.parse_args(None if argv is None else list(argv))
    out = build(args.sweep, args.out, args.draws, args.fit_draws)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
