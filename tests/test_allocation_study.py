"""The allocation study's cheap fixed curve (issue 17): on the toy world (the trained toy_small
policy and toy PRM, batched as in a real run) the first k solutions of a run at n=8 are the
solutions a run at k draws, so `allocation_study --fixed prefix` may read the fixed curve off
one wide run. Checked here against real runs, not assumed."""

from __future__ import annotations

import pytest

from infscale.experiments.analysis import curves
from infscale.experiments.app.build import build_task
from infscale.experiments.app.run import run
from tests.conftest import make_config, read_results

pytestmark = pytest.mark.slow

TOY = (
    "task=toy_arith",
    "task.level=mixed",
    "policy=toy_small",
    "reward=toy_prm",
    "policy.threads=1",
    "policy.max_tokens=64",
    "strategy=best_of_n",
    "strategy.aggregation=min",
    "n_problems=8",
)


@pytest.mark.parametrize("k", [1, 3])
def test_prefix_of_a_wide_toy_run_is_the_run_at_k(tmp_path, k):
    wide_cfg = make_config(*TOY, "strategy.n=8")
    run(wide_cfg, tmp_path / "wide")
    run(make_config(*TOY, f"strategy.n={k}"), tmp_path / "narrow")
    wide, narrow = read_results(tmp_path / "wide"), read_results(tmp_path / "narrow")
    for long, short in zip(wide, narrow, strict=True):
        assert [(c["answer"], c["tokens"]) for c in long["candidates"][:k]] == [
            (c["answer"], c["tokens"]) for c in short["candidates"]
        ]
        for a, b in zip(long["candidates"][:k], short["candidates"]):
            assert a["flops"] == b["flops"]
            # the PRM reads the same text in a different batch: float noise only
            assert a["step_scores"] == pytest.approx(b["step_scores"], abs=1e-5)
    problems = curves.prepare(wide, build_task(wide_cfg))
    by_selector = {
        p.selector: p for p in curves.subsample(problems, [k], ["weighted", "majority"], 256, subsets="prefix")
    }
    assert by_selector["weighted"].correct == [float(r["correct"]) for r in narrow]
    assert by_selector["weighted"].flops_total == pytest.approx([r["flops"]["total"] for r in narrow], rel=1e-12)
