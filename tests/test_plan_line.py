"""The line a run prints before it starts says what the run then does: the samples per
problem under `budget.max_samples`, and under an allocator the width the allocator gives,
not the configured `strategy.n`."""

from __future__ import annotations

import logging
import re

import pytest

from infscale.experiments.app.run import run
from tests.conftest import make_config, read_results


def planned(caplog: pytest.LogCaptureFixture, tmp_path, *overrides: str) -> tuple[str, list[dict]]:
    """(the plan line, the records) of one run of the simulated world."""
    with caplog.at_level(logging.INFO, logger="infscale.run"):
        run(make_config("strategy=best_of_n", *overrides), tmp_path)
    (line,) = [r.getMessage() for r in caplog.records if "already finished" in r.getMessage()]
    return line, read_results(tmp_path)


def test_the_plan_line_states_the_max_samples_cap(caplog, tmp_path):
    line, records = planned(caplog, tmp_path, "strategy.n=8", "budget.max_samples=3", "n_problems=4")
    assert "x strategy.n=8 (at most budget.max_samples=3 samples per problem) x up to 1024 tokens" in line
    assert [r["samples"] for r in records] == [3, 3, 3, 3]
    bound = float(re.search(r"at most ([\d.e+]+) generated tokens", line).group(1))
    assert bound == pytest.approx(4 * 3 * 1024, rel=1e-2) and bound >= sum(r["tokens"]["generated"] for r in records)


def test_the_plan_line_states_the_uniform_allocators_width(caplog, tmp_path):
    line, records = planned(caplog, tmp_path, "allocator=uniform", "budget.total_flops=3e14", "n_problems=5")
    width = int(re.search(r"x n=(\d+) solutions of every problem at first, then wider alike until the pool", line)[1])
    assert "strategy.n" not in line and "from one pool (budget.total_flops=3e+14)" in line
    assert width == 11  # not the configured strategy.n=16: the widest the pool pays for at worst case
    samples = [r["samples"] for r in records]
    assert min(samples) > width and max(samples) - min(samples) <= 2  # then widened alike


def test_the_plan_line_states_the_probe_then_allocate_range(caplog, tmp_path):
    line, records = planned(
        caplog,
        tmp_path,
        "allocator=probe_then_allocate",
        "allocator.max_n=24",
        "budget.total_flops=3e14",
        "n_problems=5",
    )
    low, high = map(int, re.search(r"x (\d+) to (\d+) solutions per problem", line).groups())
    assert (low, high) == (4, 24)
    samples = [r["samples"] for r in records]
    assert all(low <= s <= high for s in samples) and max(samples) > 16  # past the configured strategy.n
