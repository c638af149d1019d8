"""`infscale-headline <tables dir>`: the README's verdict sentences, generated from the analysis.

    infscale-headline experiments/results/pareto_toy_sum_1100     # print the block
    infscale-headline experiments/results/pareto_toy_sum_1100 --write README.md docs/model_card.md

Reads what `infscale-analyze` wrote in both FLOP conventions (`compute_optimal.csv`,
`compute_optimal_flops_paper.csv`, `verdicts.csv`, `verdicts_flops_paper.csv`: a sweep folder,
or experiments/results/pareto_toy_sum_1100/ where `make figures` copies the 1,100-problem sweep's) and writes, per convention, how many search
configurations beat the strongest baseline at no more compute (experiments/analysis/baseline.py)
with the largest margin or the closest miss, then the compute-optimal table with each winner
against that baseline. Every number comes from those tables; the block sits between
`<!-- headline:start -->` and `<!-- headline:end -->`, and tests/test_headline.py fails when
the text there differs from what the committed tables give.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from infscale.experiments.analysis import blocks
from infscale.experiments.analysis.baseline import CONVENTIONS, SHORT, outcome
from infscale.experiments.app import errors

NAME_OF_BLOCK = "headline"
START, END = blocks.markers(NAME_OF_BLOCK)
PAGES = ("README.md", "docs/model_card.md")  # the pages that carry the block
COMMAND = f"infscale-headline experiments/results/pareto_toy_sum_1100 --write {' '.join(PAGES)}"
NAME = {"flops_paper": "`flops.paper` (policy FLOPs, Wu et al.)", "flops_total": "`flops.total` (PRM counted)"}
SOURCES = (("compute_optimal", "flops_total"), ("compute_optimal", "flops_paper"), ("verdicts", "flops_total"))
SAMPLING = {"majority": "majority@{n}", "weighted": "PRM-weighted@{n}", "best": "PRM best-of-{n}"}
SEARCH = {"rebase": "REBASE", "beam": "beam search", "dvts": "DVTS", "mcts": "MCTS"}


def pretty(label: str) -> str:
    """A point's label (`baseline.label`) as the README writes it: `toy_sum_m PRM-weighted@8`,
    `toy_sum_s + REBASE n = 4 (oracle at PRM cost)`; other strategies keep their curve name."""
    width = re.search(r"@(\d+)$", label)
    head = label[: width.start()] if width else label
    n = width[1] if width else ""
    policy, _, rest = head.partition(" ")
    strategy, _, extra = rest.partition(" ")
    name, _, selector = strategy.partition("/")
    extra = re.sub(r"reward\.name=oracle_\S+", "oracle at PRM cost", extra)
    extra = re.sub(r"reward\.name=(\S+)", r"\1", extra)
    if name == "best_of_n" and selector in SAMPLING:
        text = f"{policy} {SAMPLING[selector].format(n=n)}"
    elif name in SEARCH:
        text = f"{policy} + {SEARCH[name]} n = {n}"
    elif name == "greedy":
        text = f"{policy} greedy"
    else:
        return label
    return text + (f" ({extra})" if extra else "")


def _value(text: str) -> Any:
    if text in ("", "None"):
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        return float(text)
    except ValueError:
        return text


def sources(folder: Path) -> list[Path]:
    """The CSV files of `folder` the headline is generated from (verdicts.csv holds both
    conventions' columns)."""
    return [_path(folder, name, x) for name, x in SOURCES]


def _path(folder: Path, name: str, x: str) -> Path:
    return Path(folder) / (f"{name}.csv" if x == "flops_total" else f"{name}_{x}.csv")


def read(folder: Path, name: str, x: str) -> list[dict[str, Any]]:
    path = _path(folder, name, x)
    if not path.exists():
        raise ValueError(f"{path} does not exist: run infscale-analyze --x {x} on the sweep (make figures writes it)")
    with path.open(newline="") as handle:
        return [{k: _value(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _compute(value: float) -> str:
    """3.2e7, not 3.2e+07."""
    return re.sub(r"e\+?0*(\d)", r"e\1", f"{value:.2g}")


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _difference(row: dict[str, Any], prefix: str) -> str:
    low, high = row.get(f"{prefix}.vs_baseline_lo"), row.get(f"{prefix}.vs_baseline_hi")
    interval = "" if low is None else f" [{_points(low)}, {_points(high)}]"
    return f"{_points(row[f'{prefix}.vs_baseline'])}{interval} points"


def summary(verdicts: list[dict[str, Any]], x: str, listed: int = 4) -> str:
    """How many search configurations beat the strongest baseline at no more `x` than their own
    cost, how many fall below it, and the winners (or the closest miss) with their margins."""
    prefix = SHORT[x]
    rows = [r for r in verdicts if r.get(f"{prefix}.baseline") is not None]
    if not rows:
        return f"In {NAME[x]}, no search configuration has a baseline at no more compute."
    winners = [r for r in rows if r.get(f"{prefix}.beats_baseline") is True]
    below = [r for r in rows if r.get(f"{prefix}.vs_baseline_hi") is not None and r[f"{prefix}.vs_baseline_hi"] < 0]
    key = f"{prefix}.vs_baseline_lo" if rows[0].get(f"{prefix}.vs_baseline_lo") is not None else f"{prefix}.vs_baseline"
    ranked = sorted(rows, key=lambda r: (-r[key], -r["accuracy"], r["candidate"]))
    lead = (
        f"In {NAME[x]}, {len(winners)} of {len(rows)} search configurations beat the strongest baseline at no "
        f"more compute than their own and {len(below)} fall below it"
    )
    shown = [r for r in ranked if r in winners][:listed] or ranked[:1]
    what = "the largest margins" if len(shown) > 1 else ("the largest margin" if winners else "the closest")
    return f"{lead}; {what}: " + "; ".join(_margin(r, x) for r in shown) + "."


def _margin(row: dict[str, Any], x: str) -> str:
    prefix = SHORT[x]
    return (
        f"{pretty(row['candidate'])}, {row['accuracy']:.2f} at {_compute(row[x])} per problem, against "
        f"{pretty(row[f'{prefix}.baseline'])} ({row[f'{prefix}.baseline_accuracy']:.2f}), {_difference(row, prefix)}"
        + ("" if row.get(f"{prefix}.beats_baseline") is True else f", {outcome(row, prefix, pretty)}")
    )


def table(rows: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Per budget, each convention's winner and its difference from the strongest baseline."""
    overall = {x: {r["budget"]: r for r in rows[x] if r["difficulty"] == "all" and r["group"] == "all"} for x in rows}
    budgets = sorted({b for x in overall for b in overall[x]})
    head = "| budget per problem | " + " | ".join(f"best in {NAME[x]} | vs strongest baseline" for x in rows) + " |"
    lines = [head, "|---" * (1 + 2 * len(rows)) + "|"]
    for budget in budgets:
        cells = [_compute(budget)]
        for x in rows:
            row = overall[x].get(budget)
            cells += ["", ""] if row is None else _cells(row, SHORT[x])
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _cells(row: dict[str, Any], prefix: str) -> list[str]:
    best = f"{pretty(row['best'].replace(' n=', '@'))}, {row['accuracy']:.2f} [{row['accuracy_lo']:.2f}, {row['accuracy_hi']:.2f}]"
    name = row.get(f"{prefix}.baseline")
    if name is None:
        return [best, "no baseline that cheap"]
    verdict = outcome(row, prefix, pretty)
    if row.get(f"{prefix}.itself"):
        return [best, verdict]
    return [best, f"{pretty(name)} {row[f'{prefix}.baseline_accuracy']:.2f}: {_difference(row, prefix)}, {verdict}"]


def size(optimal: dict[str, list[dict[str, Any]]], verdicts: list[dict[str, Any]]) -> str:
    """How many problems the numbers come from, and the widest paired interval the block shows
    (half its width, in points): whether the claims are sized to separate."""
    overall = [(r, SHORT[x]) for x in optimal for r in optimal[x] if r["difficulty"] == "all" and r["group"] == "all"]
    problems = sorted({int(r["n_problems"]) for r, _ in overall if r.get("n_problems") is not None})
    shown = [(r, p) for r, p in overall if not r.get(f"{p}.itself")] + [(r, SHORT[x]) for r in verdicts for x in NAME]
    halves = [
        (r[f"{p}.vs_baseline_hi"] - r[f"{p}.vs_baseline_lo"]) / 2
        for r, p in shown
        if r.get(f"{p}.vs_baseline_lo") is not None and r.get(f"{p}.vs_baseline_hi") is not None
    ]
    count = f"{problems[0]} to {problems[-1]}" if len(problems) > 1 else (str(problems[0]) if problems else "?")
    widest = (
        f"; the widest paired 95% interval against a baseline is +-{100 * max(halves):.1f} points" if halves else ""
    )
    return f"Every configuration ran on {count} problems{widest}."


def block(folder: Path) -> str:
    """The generated text, markers included."""
    optimal = {x: read(folder, "compute_optimal", x) for x in reversed(CONVENTIONS)}
    verdicts = read(folder, "verdicts", "flops_total")
    lines = []
    for x in optimal:
        lines += ["", summary(verdicts, x)]
    lines += ["", size(optimal, verdicts), "", *table(optimal)]
    return blocks.wrap(NAME_OF_BLOCK, COMMAND, "\n".join(lines))


def replace(text: str, generated: str, name: str = "the file") -> str:
    """`text` with its headline block replaced by `generated` (one block, markers included)."""
    return blocks.replace(text, NAME_OF_BLOCK, generated, name)


def current(text: str, name: str = "the file") -> str:
    """The headline block of `text`, markers included."""
    return blocks.current(text, NAME_OF_BLOCK, name)


@errors.command("infscale-headline")
def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="infscale-headline", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "tables", type=Path, help="a folder with the analysis tables (a sweep, or its copy under experiments/results/)"
    )
    parser.add_argument("--write", type=Path, nargs="*", default=[], help="files whose headline block to replace")
    args = parser.parse_args(None if argv is None else list(argv))
    generated = block(args.tables)
    blocks.write_pages(args.write, NAME_OF_BLOCK, generated)
    if not args.write:
        print(generated)


if __name__ == "__main__":
    main()
