"""Runaway input (issue 16): a width that cannot sensibly run stops before any work with one
line naming strategy.n and the ceiling that lets it run; a width at the ceiling runs."""

import time

import pytest

from infscale.experiments.app.build import build
from infscale.experiments.app.preflight import plan_line
from infscale.experiments.app.prm_eval import evaluate_prm
from infscale.experiments.app.run import run
from tests.conftest import read_results, run_cli
from tests.test_bad_input_files import one_line_error
from tests.test_prm_eval import prm_config


@pytest.mark.slow
def test_a_billion_samples_per_problem_stops_at_once_naming_the_key_and_the_ceiling(tmp_path):
    started = time.monotonic()
    done = run_cli("strategy=best_of_n", "strategy.n=1000000000", f"hydra.run.dir={tmp_path}", timeout=120)
    one_line_error(
        done,
        "strategy.n=1000000000 is above the ceiling engine.max_n=65536 (each problem holds its strategy.n "
        "samples in memory at once); lower strategy.n, or raise the ceiling with engine.max_n=1000000000",
    )
    assert time.monotonic() - started < 120  # before this issue: no output, hours of building requests
    assert "to run) x strategy.n=" not in done.stderr and not (tmp_path / "results.jsonl").exists()


@pytest.mark.parametrize("strategy", ["best_of_n", "beam", "rebase", "mcts"])
def test_the_ceiling_is_inclusive_and_configurable(config, tmp_path, strategy):
    with pytest.raises(ValueError, match=r"^strategy.n=5 is above the ceiling engine.max_n=4 "):
        run(config(f"strategy={strategy}", "strategy.n=5", "engine.max_n=4", "n_problems=2"), tmp_path / "over")
    assert not (tmp_path / "over" / "results.jsonl").exists()
    summary = run(config(f"strategy={strategy}", "strategy.n=4", "engine.max_n=4", "n_problems=2"), tmp_path / "at")
    assert summary["n_problems"] == 2 and len(read_results(tmp_path / "at")) == 2


@pytest.mark.parametrize("ceiling", [0, -3, "many"])
def test_a_ceiling_that_is_not_a_positive_integer_is_refused(config, tmp_path, ceiling):
    with pytest.raises(ValueError, match=f"^engine.max_n must be a positive integer, got {ceiling!r}$"):
        run(config("strategy=best_of_n", "strategy.n=2", f"engine.max_n={ceiling}", "n_problems=1"), tmp_path)


def test_prm_eval_best_of_n_has_the_same_ceiling():
    cfg = prm_config("task=simulated", "policy=simulated", "reward=sim_perfect", "bon.n=9", "engine.max_n=8")
    with pytest.raises(
        ValueError, match=r"^bon.n=9 is above the ceiling engine.max_n=8 .* engine.max_n=9 if you mean it$"
    ):
        evaluate_prm(cfg)


def test_wide_searches_take_fewer_problems_at_once_with_identical_results(config, tmp_path):
    """engine.max_n also bounds the samples of all problems in flight: n=8 under a ceiling of
    16 searches 2 problems at a time (said on the plan line), and every result is the same as
    with 512 at a time (sampling seeds derive from problem ids, not from the schedule)."""
    common = ("strategy=rebase", "strategy.n=8", "n_problems=6", "seed=3")
    narrow, wide = config(*common, "engine.max_n=16"), config(*common)
    assert (build(narrow).engine.max_concurrent, build(wide).engine.max_concurrent) == (2, 512)
    assert "x up to 1024 tokens: at most 4.92e+04 generated tokens; 2 problems at once (engine.max_n=16 samples" in (
        plan_line(narrow, 6, 0, tmp_path)
    )
    assert "problems at once" not in plan_line(wide, 6, 0, tmp_path)
    run(narrow, tmp_path / "narrow")
    run(wide, tmp_path / "wide")

    def without_time(folder):
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in read_results(folder)]

    assert len(without_time(tmp_path / "narrow")) == 6
    assert without_time(tmp_path / "narrow") == without_time(tmp_path / "wide")
