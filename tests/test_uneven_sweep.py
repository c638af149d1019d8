"""A sweep whose jobs ran different numbers of problems, as one with a `save_trees=true` job
on a few problems does, still analyzes and reports (it stopped both with "problem ... was not
run by ..."): a rerun of a configuration on fewer of its problems is left out of the tables
with one line (its trees stay in the report), and a configuration run only on fewer problems
is compared with each other on the problems they share, with one line saying so."""

from __future__ import annotations

import numpy as np
import pytest

from infscale.experiments.analysis import analyze, collect, report
from infscale.experiments.analysis.outcomes import Stats
from infscale.experiments.app.run import run
from infscale.experiments.stats import difference
from tests.conftest import make_config

JOBS = {
    "bon4": ("strategy=best_of_n", "strategy.n=4", "n_problems=12"),
    "bon8": ("strategy=best_of_n", "strategy.n=8", "n_problems=12"),
    "rebase4": ("strategy=rebase", "strategy.n=4", "n_problems=12"),
    "rebase4_trees": ("strategy=rebase", "strategy.n=4", "n_problems=4", "save_trees=true"),
    "rebase8_trees": ("strategy=rebase", "strategy.n=8", "n_problems=5", "save_trees=true"),
}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("uneven")
    for name, overrides in JOBS.items():
        run(make_config(*overrides), root / name)
    return root


def test_a_rerun_on_fewer_problems_is_left_out_once_with_one_line(sweep):
    collection = collect.collect(sweep, draws=4)
    assert sorted(r["job"] for r in collection.rows) == ["bon4", "bon8", "rebase4", "rebase8_trees"]
    assert collection.messages == [
        "rebase4_trees: the configuration and seed of rebase4 on 4 of its 12 problems (a rerun, e.g. with "
        "save_trees=true): left out of the tables, which count that configuration once; its trees are still "
        "in infscale-report's viewer"
    ]


def test_a_configuration_run_on_fewer_problems_is_compared_on_the_problems_it_shares(sweep):
    collect.write_collection(collect.collect(sweep, draws=4), sweep)
    result = analyze.analyze(sweep, draws=50, fit_draws=4)
    assert result["messages"] == [
        "rebase8_trees ran 5 of the 12 problems the largest job ran: it is compared with the others on the "
        "problems it shares with each"
    ]
    (rebase4,) = [p for p in result["points"] if p.get("job") == "rebase4"]
    assert rebase4["n_seeds"] == 1 and rebase4["n_problems"] == 12  # not pooled with its 4-problem rerun
    stats = Stats(sweep, draws=50)
    (short,) = [p for p in result["points"] if p.get("job") == "rebase8_trees"]
    shared = stats.shared(stats.resampler(stats.outcomes(rebase4).problems), short)
    assert shared.problems == ("sim-0-00000", "sim-0-00001", "sim-0-00002", "sim-0-00003", "sim-0-00004")
    estimate = difference(shared, stats.outcomes(rebase4), stats.outcomes(short))[0]
    first_five = np.mean(stats.outcomes(rebase4).correct[0, :5]) - np.mean(stats.outcomes(short).correct[0])
    assert estimate == pytest.approx(first_five)


def test_the_report_of_an_uneven_sweep_shows_both_tree_viewers(sweep):
    page = report.build(sweep, draws=50, fit_draws=4).read_text()
    assert 'href="rebase4_trees/trees.html"' in page and 'href="rebase8_trees/trees.html"' in page
    assert "rebase8_trees ran 5 of the 12 problems" in page
