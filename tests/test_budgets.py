import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infscale.budgets.budget import Budget
from infscale.experiments.app.build import load
from infscale.search.engine import Sampling
from tests.engine_helpers import simulated_engine, strategy, strategy_names

TASK = load("task", "simulated", n=3, seed=7)
SAMPLING = Sampling(temperature=1.0, max_step_tokens=64, max_tokens=256)
NAMES = strategy_names()


def options(name: str, n: int, data: st.DataObject) -> dict:
    """Every option of the strategy that changes what it generates, drawn at random."""
    drawn = {"unanswered": data.draw(st.sampled_from(["vote", "drop"]))}
    if name in ("beam", "dvts"):
        drawn["beam_width"] = data.draw(st.sampled_from([m for m in range(1, n + 1) if n % m == 0]))
    if name == "beam":
        drawn["lookahead"] = data.draw(st.integers(0, 2))
        drawn["filter_duplicates"] = data.draw(st.booleans())
        drawn["sort_completed"] = data.draw(st.booleans())
    if name == "rebase":
        drawn["select_method"] = data.draw(st.sampled_from(["softmax", "softmax_with_truncate"]))
        drawn["truncate_ratio"] = data.draw(st.sampled_from([1.0, 0.5, 0.25]))
    if name == "mcts":
        drawn["simulate"] = data.draw(st.sampled_from(["max", "sample", "random"]))
        drawn["output"] = data.draw(
            st.sampled_from(["max_reward", "follow_max", "max_visit", "last_terminal_iter", "vote"])
        )
    return drawn


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(NAMES),
    n=st.integers(min_value=1, max_value=12),
    max_samples=st.one_of(st.none(), st.integers(min_value=1, max_value=40)),
    max_tokens=st.one_of(st.none(), st.integers(min_value=256, max_value=3000)),
    flops_scale=st.one_of(st.none(), st.floats(min_value=0.5, max_value=40.0)),
    data=st.data(),
)
def test_no_run_crosses_any_budget_cap(name, n, max_samples, max_tokens, flops_scale, data):
    one_sample = 1.2e11  # about one full sample of the test model: caps from half to 40 samples
    budget = Budget(
        max_samples=max_samples,
        max_tokens=max_tokens,
        max_flops=None if flops_scale is None else flops_scale * one_sample,
    )
    engine = simulated_engine(task=TASK, budget=budget, sampling=SAMPLING, max_batch=8)
    try:
        outcomes = list(engine.run(TASK.problems(), strategy(name, TASK, n=n, **options(name, n, data))))
    except ValueError as error:
        assert "below the worst-case cost" in str(error)
        return
    for outcome in outcomes:
        ledger = outcome.ledger
        if max_samples is not None:
            assert ledger.samples <= max_samples
        if max_tokens is not None:
            assert ledger.generated <= max_tokens
        if budget.max_flops is not None:
            assert ledger.flops_total <= budget.max_flops


def test_a_cap_below_one_step_is_refused_with_a_clear_error():
    engine = simulated_engine(
        task=TASK, budget=Budget(max_samples=None, max_tokens=None, max_flops=1e6), sampling=SAMPLING
    )
    with pytest.raises(
        ValueError, match=r"budget \(budget.max_flops=1000000.0\) is below the worst-case cost of one step"
    ):
        list(engine.run(TASK.problems(), strategy("rebase", TASK, n=4)))


def test_a_tight_token_cap_cuts_the_search_but_still_decides():
    budget = Budget(max_samples=None, max_tokens=300, max_flops=None)
    engine = simulated_engine(task=TASK, budget=budget, sampling=SAMPLING)
    outcomes = list(engine.run(TASK.problems(), strategy("rebase", TASK, n=16)))
    assert all(o.ledger.generated <= 300 for o in outcomes)
    assert all(o.ledger.samples < 16 * 3 for o in outcomes)


def test_negative_budget_is_refused():
    with pytest.raises(ValueError, match="budget.max_tokens must be a positive number"):
        load("budget", "none", max_tokens=-5)
