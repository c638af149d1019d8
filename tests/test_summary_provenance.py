"""summary.json keeps its provenance in one `provenance` object (docs/design.md), and the
readers of run folders still read folders written before, with those keys at the top level."""

from __future__ import annotations

import json

import pytest

from infscale.experiments.analysis.collect import job_row, load_job
from infscale.experiments.app.run import run
from infscale.experiments.app.store import RunStore, provenance_of
from tests.conftest import make_config

KEYS = ["checkpoints", "config", "engine_calls", "finished_at", "git_commit", "shard", "versions"]


def old_layout(folder) -> None:
    """Rewrite a run folder's summary.json as runs wrote it before: provenance at the top."""
    path = folder / "summary.json"
    summary = json.loads(path.read_text())
    path.write_text(json.dumps({**{k: v for k, v in summary.items() if k != "provenance"}, **summary["provenance"]}))


@pytest.mark.slow
def test_provenance_is_one_object_and_old_summaries_read_the_same(tmp_path):
    cfg = make_config("strategy=best_of_n", "strategy.n=2", "n_problems=3")
    new, old = tmp_path / "new", tmp_path / "old"
    summary = run(cfg, new)
    run(cfg, old)
    assert sorted(summary["provenance"]) == KEYS and not set(KEYS) & set(summary)
    assert json.loads((new / "summary.json").read_text())["provenance"]["config"]["strategy"]["n"] == 2
    old_layout(old)
    assert provenance_of(json.loads((old / "summary.json").read_text()))["config"] == summary["provenance"]["config"]
    jobs = [load_job(folder, tmp_path) for folder in (new, old)]
    assert jobs[0].config == jobs[1].config == summary["provenance"]["config"]
    rows = [job_row(job, [], tmp_path) for job in jobs]
    assert rows[0]["git_commit"] == rows[1]["git_commit"] == summary["provenance"]["git_commit"]
    assert rows[0]["finished_at"] is not None and rows[1]["finished_at"] is not None


@pytest.mark.slow
def test_an_old_folder_without_run_config_is_checked_against_its_summary(tmp_path):
    cfg = make_config("strategy=best_of_n", "strategy.n=2", "n_problems=3")
    run(cfg, tmp_path)
    old_layout(tmp_path)
    (tmp_path / "run_config.json").unlink()
    with pytest.raises(ValueError, match="strategy.n"):
        run(make_config("strategy=best_of_n", "strategy.n=4", "n_problems=3"), tmp_path)
    assert RunStore(tmp_path).finished()  # the results are kept
