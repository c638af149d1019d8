"""The papers' figures stay readable: one curve and one legend entry per (policy, strategy,
reward) — the error plot drew the two rewards of a policy in the same colour and marker, each
in the legend again — and the legend lies inside the canvas, below the panels (levels_*.png
cut it off)."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import pytest
from matplotlib.transforms import Bbox

from infscale.experiments.analysis import analyze, collect, figures
from infscale.experiments.app.run import run
from tests.conftest import make_config

POLICIES = ("simulated", "sim_large")
REWARDS = ("simulated", "sim_noise")
SEARCHES = (("best_of_n", 8), ("rebase", 2), ("rebase", 4))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("figures")
    for policy, reward, (strategy, n) in itertools.product(POLICIES, REWARDS, SEARCHES):
        overrides = (f"policy={policy}", f"reward={reward}", f"strategy={strategy}", f"strategy.n={n}", "n_problems=6")
        run(make_config(*overrides), root / f"{policy}-{reward}-{strategy}{n}")
    collect.write_collection(collect.collect(root, draws=4), root)
    return root, analyze.analyze(root, draws=20, fit_draws=4)


def legend_checks(fig) -> list[str]:
    """The figure's one legend: its labels, after checking it lies inside the canvas and
    below every panel."""
    (legend,) = fig.legends
    fig.canvas.draw()
    box = legend.get_window_extent()
    assert Bbox.intersection(box, fig.bbox).bounds == pytest.approx(box.bounds)  # wholly inside
    lowest_panel = min(ax.get_tightbbox().y0 for ax in fig.axes if ax.axison)
    assert box.y1 <= lowest_panel + 1
    return [text.get_text() for text in legend.get_texts()]


def test_the_error_plot_draws_each_policy_and_reward_once_with_its_own_style(sweep):
    _, result = sweep
    fig = figures.draw_error(result, "flops_total")
    labels = legend_checks(fig)
    assert sorted(labels) == [
        "sim_large reward.name=sim_noise",
        "sim_large reward.name=simulated",
        "simulated reward.name=sim_noise",
        "simulated reward.name=simulated",
    ]
    (rebase,) = [ax for ax in fig.axes if ax.get_title() == "rebase/weighted"]
    points = [line for line in rebase.get_lines() if line.get_linestyle() == "None"]
    assert len(points) == 4
    assert len({(str(line.get_color()), line.get_marker()) for line in points}) == 4
    plt.close(fig)


def test_the_levels_plot_lists_each_curve_once_inside_the_canvas(sweep):
    root, _ = sweep
    fig = figures.draw_levels(root, "flops_total")
    labels = legend_checks(fig)
    assert len(labels) == len(set(labels))
    curves = {line.get_label() for ax in fig.axes for line in ax.get_lines()}
    assert set(labels) == curves
    plt.close(fig)
