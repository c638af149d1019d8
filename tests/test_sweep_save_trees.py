"""`save_trees` changes how a job runs, not what it computes: a sweep job run again with
`save_trees=true` resumes the same job folder (same name, same run id) instead of making a
second folder that analysis would count as another configuration, and says that the problems
finished before have no trees."""

from __future__ import annotations

import pytest

from tests.conftest import read_results, run_cli

JOB = ("-m", "+experiment=pareto_sim", "n_problems=3", "policy=simulated", "strategy=best_of_n", "strategy.n=2")


@pytest.mark.slow
def test_save_trees_reuses_the_sweep_jobs_folder(tmp_path):
    first = run_cli(*JOB, f"hydra.sweep.dir={tmp_path}")
    assert first.returncode == 0, first.stderr
    again = run_cli(*JOB, "save_trees=true", f"hydra.sweep.dir={tmp_path}")
    assert again.returncode == 0, again.stderr
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir() and p.name != ".hydra"]
    assert "save_trees" not in folder.name
    assert len(read_results(folder)) == 3
    assert "(3 already finished, 0 to run)" in again.stderr
    assert "save_trees=true: 3 problems finished before without saving their trees" in again.stderr
