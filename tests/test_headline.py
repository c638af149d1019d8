"""The README's verdict sentences are generated from the committed analysis tables
(experiments/results/pareto_toy_sum_1100/, written by `make figures`), never typed: a hand-edited
number fails here."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from infscale.experiments.analysis import headline
from infscale.experiments.studies.figures import RESULTS

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / RESULTS


@pytest.mark.parametrize("page", headline.PAGES)
def test_the_pages_headline_is_what_the_committed_tables_give(page):
    text = (ROOT / page).read_text()
    assert headline.current(text, page) == headline.block(TABLES), (
        f"{page}'s headline block differs from the committed tables: regenerate it with "
        f"`{headline.COMMAND}` (make figures does)"
    )


def test_a_changed_number_in_the_tables_changes_the_block(tmp_path):
    for path in headline.sources(TABLES):
        shutil.copyfile(path, tmp_path / path.name)
    table = tmp_path / "compute_optimal_flops_paper.csv"
    rows = list(csv.DictReader(table.open()))
    shown = next(r for r in rows if r["difficulty"] == r["group"] == "all" and r["paper.itself"] == "False")
    shown["paper.vs_baseline"] = str(float(shown["paper.vs_baseline"]) + 0.123)
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert headline.block(tmp_path) != headline.block(TABLES)


def verdict(candidate: str, accuracy: float, diff: float, low: float, high: float, beats: bool) -> dict:
    return {
        "candidate": candidate,
        "accuracy": accuracy,
        "flops_paper": 1.0e8,
        "paper.baseline": "toy_sum_m greedy",
        "paper.baseline_accuracy": accuracy - diff,
        "paper.vs_baseline": diff,
        "paper.vs_baseline_lo": low,
        "paper.vs_baseline_hi": high,
        "paper.beats_baseline": beats,
    }


def test_the_summary_counts_wins_and_losses_and_names_the_best_margin():
    rows = [
        verdict("toy_sum_xs rebase/weighted reward.name=oracle_toy_sum_prm@16", 0.90, -0.05, -0.095, -0.01, False),
        verdict("toy_sum_s beam/weighted@4", 0.95, 0.02, -0.02, 0.06, False),
        verdict("toy_sum_s rebase/weighted@4", 0.97, 0.04, 0.01, 0.08, True),
    ]
    assert headline.summary(rows, "flops_paper") == (
        "In `flops.paper` (policy FLOPs, Wu et al.), 1 of 3 search configurations beat the strongest baseline at "
        "no more compute than their own and 1 fall below it; the largest margin: toy_sum_s + REBASE n = 4, 0.97 "
        "at 1e8 per problem, against toy_sum_m greedy (0.93), +4.0 [+1.0, +8.0] points."
    )
    rows[1]["paper.beats_baseline"] = True
    rows[1]["paper.vs_baseline_lo"] = 0.005
    assert "2 of 3" in headline.summary(rows, "flops_paper")
    assert "the largest margins: toy_sum_s + REBASE n = 4" in headline.summary(rows, "flops_paper")
    assert "points; toy_sum_s + beam search n = 4, 0.95" in headline.summary(rows, "flops_paper")
    for row in rows[1:]:
        row["paper.beats_baseline"] = False
        row["paper.vs_baseline_lo"] = -0.03
    assert "0 of 3 search configurations" in headline.summary(rows, "flops_paper")
    assert "the closest: toy_sum_s + REBASE n = 4, 0.97" in headline.summary(rows, "flops_paper")


def test_labels_read_as_the_readme_writes_them():
    assert headline.pretty("toy_sum_m best_of_n/majority@8") == "toy_sum_m majority@8"
    assert headline.pretty("toy_sum_m best_of_n/weighted@8") == "toy_sum_m PRM-weighted@8"
    assert headline.pretty("toy_sum_m best_of_n/best@16") == "toy_sum_m PRM best-of-16"
    assert headline.pretty("toy_sum_xs greedy@1") == "toy_sum_xs greedy"
    oracle = "toy_sum_s rebase/weighted reward.name=oracle_toy_sum_prm@4"
    assert headline.pretty(oracle) == "toy_sum_s + REBASE n = 4 (oracle at PRM cost)"
    assert headline.pretty("sim adaptive/majority@4") == "sim adaptive/majority@4"


def test_a_page_needs_exactly_one_block():
    with pytest.raises(ValueError, match="README.md: needs exactly one"):
        headline.replace("no markers here", "x", "README.md")
    text = f"a\n{headline.START}\nold\n{headline.END}\nb"
    assert headline.replace(text, "new", "p") == "a\nnew\nb"


def test_the_block_says_how_many_problems_and_how_wide_the_widest_interval_is():
    optimal = {
        "flops_total": [
            {"difficulty": "all", "group": "all", "n_problems": 500.0, "total.itself": False,
             "total.vs_baseline_lo": -0.01, "total.vs_baseline_hi": 0.05},
            {"difficulty": "1", "group": "all", "n_problems": 125.0, "total.itself": False,
             "total.vs_baseline_lo": -0.5, "total.vs_baseline_hi": 0.5},
        ]
    }  # fmt: skip
    verdicts = [{"total.vs_baseline_lo": 0.0, "total.vs_baseline_hi": 0.04, "paper.vs_baseline_lo": -0.02,
                 "paper.vs_baseline_hi": 0.06}]  # fmt: skip
    assert headline.size(optimal, verdicts) == (
        "Every configuration ran on 500 problems; the widest paired 95% interval against a baseline is +-4.0 points."
    )
