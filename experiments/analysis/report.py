"""`infscale-report <multirun dir>`: one self-contained HTML report of a sweep, readable offline.

    infscale-report multirun/pareto_toy [--out report.html] [--draws 1000] [--fit-draws 200]

Collects the sweep (unless `collected.json` is newer than every job), analyzes it in both FLOP
conventions (flops_total and flops_paper), draws the Pareto plot and the papers' figures, and
writes `<sweep>/report.html`: figures embedded as base64 PNG, the headline comparisons with
their paired 95% intervals, the compute-optimal table with ties, the compute-optimal model
size, the scaling fits with their flags, and provenance (jobs, git commits, configs). Every
run that saved its trees (save_trees=true) also gets `<run>/trees.html`, a tree viewer linked
from the report (experiments/analysis/trees.py).
"""

from __future__ import annotations

import argparse
import base64
import html
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from infscale.experiments.analysis import analyze, collect, figures, paired, plot, robust, trees

CONVENTIONS = ("flops_total", "flops_paper")


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


def _table(rows: list[dict[str, Any]], columns: list[str], css: str = "") -> str:
    if not rows:
        return "<p><em>(empty)</em></p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def headline(rows: list[dict[str, Any]], limit: int = 12) -> list[str]:
    """The comparisons a reader looks for first: tree search and larger models against
    best-of-N, each "A reaches B's best accuracy at r x the compute [interval]"."""
    usable = [r for r in rows if r["ratio"] is not None and "greedy" not in r["a"]]
    usable.sort(key=lambda r: r["ratio_hi"] if r.get("ratio_hi") is not None else r["ratio"])
    return [analyze.saved_sentence(r) for r in usable[:limit]]


def _needs_collect(root: Path) -> bool:
    table = root / "problems.json"
    if not table.exists() or not (root / "collected.json").exists():
        return True
    newest = max((p.stat().st_mtime for p in root.rglob("summary.json")), default=0)
    return newest > table.stat().st_mtime


def build(root: Path, out: Path | None = None, draws: int = paired.DRAWS, fit_draws: int = robust.FIT_DRAWS) -> Path:
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
    main = results["flops_total"]
    tables = main["tables"]
    overall = [r for r in tables["compute_optimal"] if r["difficulty"] == "all" and r["group"] == "all"]
    jobs = collect.read_table(root / "collected.json")
    parts = [
        f"<h1>Sweep report: {html.escape(root.name)}</h1>",
        f"<p>{len(jobs)} jobs; task {html.escape(', '.join(sorted({str(j['task.name']) for j in jobs})))}; "
        f"generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. All intervals are 95% paired "
        f"bootstrap intervals over problems (seeds as a second level), {draws} replicates.</p>",
        "<h2>Headline comparisons</h2>",
    ]
    for x in CONVENTIONS:
        sentences = headline(results[x]["tables"]["flops_saved"])
        parts.append(f"<h3>{html.escape(figures.CONVENTION[x])}</h3><ul>")
        parts += [f"<li>{html.escape(s)}</li>" for s in sentences] or ["<li>(no comparison)</li>"]
        parts.append("</ul>")
    parts += [
        "<h2>Compute-optimal configuration per budget (flops_total)</h2>",
        "<p>tied_with: configurations not significantly worse than the winner (paired bootstrap); "
        "a budget is a limit on the mean compute per problem.</p>",
        _table(overall, ["budget", "best", "accuracy", "accuracy_lo", "accuracy_hi", "tied_curves", "n_problems"]),
        "<h2>Compute-optimal model size per budget</h2>",
    ]
    for x in CONVENTIONS:
        fit = results[x]["size_fit"]
        parts.append(f"<h3>{html.escape(x)}</h3>")
        parts.append(
            _table(
                results[x]["tables"]["optimal_size"],
                ["budget", "policy.name", "params", "accuracy", "accuracy_lo", "accuracy_hi", "tied_sizes"],
            )
        )
        parts.append(
            f"<p>fit N_opt ~ C^{fit['slope']:.3f} over {fit['n_points']} untied budgets</p>"
            if fit["slope"] is not None
            else f"<p>no size fit ({fit['flags']}: {fit['n_points']} untied budgets, {fit['n_sizes']} model sizes; "
            "3 of each are needed)</p>"
        )
    parts += [
        "<h2>Scaling fits (flops_total)</h2>",
        "<p>Flagged fits are not used for crossovers or extrapolation and are drawn dashed.</p>",
        _table(
            tables["scaling_fit"],
            [
                "curve",
                "flags",
                "n_points",
                "e_inf",
                "e_inf_lo",
                "e_inf_hi",
                "a",
                "a_lo",
                "a_hi",
                "b",
                "b_lo",
                "b_hi",
                "rmse",
            ],
        ),
        "<h3>Crossovers (unflagged fits only)</h3>",
        _table(
            tables["crossover"],
            ["first", "second", "crossover", "crossover_lo", "crossover_hi", "crossing_share", "better_above"],
        ),
        "<h2>Figures</h2>",
        *(_img(path, caption) for path, caption in images),
        "<h2>Per difficulty level (flops_total)</h2>",
        _table(
            [r for r in tables["compute_optimal"] if r["difficulty"] != "all"],
            ["difficulty", "budget", "best", "accuracy", "accuracy_lo", "accuracy_hi", "tied_curves", "n_problems"],
        ),
        "<h2>Search trees</h2>",
        "<ul>"
        + "".join(
            f'<li><a href="{html.escape(str(v.relative_to(root)))}">{html.escape(v.parent.name)}</a></li>'
            for v in viewers
        )
        + "</ul>"
        if viewers
        else "<p>(no run saved its trees: save_trees=true)</p>",
        "<h2>Provenance</h2>",
        _table(
            jobs,
            [
                "job",
                "policy.name",
                "reward.name",
                "strategy.name",
                "strategy.selector",
                "strategy.n",
                "seed",
                "n_problems",
                "accuracy",
                "git_commit",
                "finished_at",
            ],
        ),
        "<h3>Messages</h3><ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in main["messages"]) + "</ul>",
    ]
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}table{border-collapse:collapse;font-size:12px;margin:0.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}th{background:#f3f3f3}img{max-width:100%}"
        "figure{margin:1em 0}figcaption{font-size:12px;color:#555}"
    )
    return f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sweep report: {html.escape(root.name)}</title><style>{style}</style></head><body>{"".join(parts)}</body></html>'


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="infscale-report", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--out", type=Path, help="output HTML (default <sweep>/report.html)")
    parser.add_argument("--draws", type=int, default=paired.DRAWS, help="bootstrap replicates")
    parser.add_argument("--fit-draws", type=int, default=robust.FIT_DRAWS, help="bootstrap refits per scaling fit")
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        out = build(args.sweep, args.out, args.draws, args.fit_draws)
    except ValueError as error:
        print(f"infscale-report: error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
