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


def test_the_levels_plot_gives_each_policy_its_own_row_and_lists_each_method_once(sweep):
    root, _ = sweep
    fig = figures.draw_levels(root, "flops_total")
    labels = legend_checks(fig)
    assert len(labels) == len(set(labels))
    curves = {line.get_label() for ax in fig.axes for line in ax.get_lines()}
    assert set(labels) == curves
    panels = [ax for ax in fig.axes if ax.axison]
    cells = [tuple(ax.get_title().split(" (")[0].split(", ")) for ax in panels]
    levels = {level for _, level in cells}
    assert sorted(cells) == sorted(itertools.product(POLICIES, levels))  # one panel per policy and level
    for ax in panels:  # one line per method: best_of_n's three selectors and rebase, each per reward
        assert len(ax.get_lines()) == len({line.get_label() for line in ax.get_lines()}) == 4 * len(REWARDS)
    plt.close(fig)


@pytest.mark.parametrize("span", [(6e8, 4.5e9), (1.5e9, 9e9), (3e6, 2e10)])
def test_compute_axis_labels_do_not_run_into_each_other(span):
    """A panel under a decade wide got labels at 3 and 4 x 10^9 that collided (error_*.png)."""
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    ax.plot(span, (0.1, 0.2))
    figures._log_compute_axis(ax)
    fig.canvas.draw()
    labels = [
        t
        for t in ax.get_xticklabels(which="both")
        if t.get_text() and ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]
    ]
    boxes = sorted((t.get_window_extent() for t in labels), key=lambda b: b.x0)
    assert len(boxes) >= 2
    assert all(left.x1 < right.x0 for left, right in itertools.pairwise(boxes))
    plt.close(fig)
