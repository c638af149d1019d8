"""A cap is a cap, not a hint: a capped run spends up to it (within one worst-case
sample) and is refused only when its very first step cannot fit.

The policy writes every step exactly `max_step_tokens` long (tests/fake_backends.py), so
each sample costs exactly the worst case the engine reserves and the arithmetic is exact.
"""

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infscale.budgets.budget import Budget
from infscale.experiments.app.resolvers import package_path
from infscale.search.engine import Engine, Sampling
from tests.engine_helpers import strategy
from tests.fake_backends import full_length_policy, simulated_prm, simulated_task

STEP, WHOLE = 64, 128  # max_step_tokens, max_tokens: a solution is at most two steps
SAMPLING = Sampling(temperature=0.0, max_step_tokens=STEP, max_tokens=WHOLE)
TASK = simulated_task(n=2, seed=5)  # 80-token prompts, chains of 2 to 6 steps
PROMPT = 80
# every strategy its YAML configures
STRATEGIES = sorted(p.stem for p in Path(package_path("conf/strategy")).glob("*.yaml"))
WHOLE_SOLUTIONS = {"best_of_n", "best_of_n_majority", "greedy", "adaptive"}


def caps(max_samples=None, max_tokens=None, max_flops=None) -> Budget:
    return Budget(max_samples=max_samples, max_tokens=max_tokens, max_flops=max_flops)


def engine(budget: Budget) -> Engine:
    reward = simulated_prm()
    return Engine(TASK, full_length_policy(STEP), reward, budget, SAMPLING, max_batch=256)


def spec():
    return full_length_policy(STEP).spec


@pytest.mark.slow  # tests/test_engine_scheduling.py checks fixed caps in the default tier
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(k=st.integers(1, 10), rest=st.floats(0.0, 0.99), cap=st.sampled_from(["samples", "tokens", "flops"]))
def test_best_of_n_takes_exactly_the_samples_that_fit(k, rest, cap):
    check_best_of_n_takes_exactly_the_samples_that_fit(k, rest, cap)


def check_best_of_n_takes_exactly_the_samples_that_fit(k: int, rest: float, cap: str) -> None:
    # n = 8 whole solutions of exactly 128 tokens each, majority vote (nothing scored).
    # A cap with room for k samples and a fraction more allows min(k, 8), no fewer.
    prefill, each = spec().flops_span(0, PROMPT), spec().flops_span(PROMPT, WHOLE)
    budget = {
        "samples": caps(max_samples=k),
        "tokens": caps(max_tokens=k * WHOLE + int(rest * WHOLE)),
        "flops": caps(max_flops=prefill + (k + rest) * each),
    }[cap]
    for outcome in engine(budget).run(TASK.problems(), strategy("best_of_n", TASK, n=8, selector="majority")):
        assert outcome.ledger.samples == min(k, 8)
        assert outcome.ledger.generated == min(k, 8) * WHOLE


def test_a_cap_of_exactly_one_first_step_runs_and_one_less_is_refused():
    one_step = spec().flops_span(0, PROMPT) + spec().flops_span(PROMPT, STEP)
    for budget in (caps(max_tokens=STEP), caps(max_flops=one_step), caps(max_samples=1)):
        for outcome in engine(budget).run(TASK.problems(), strategy("rebase", TASK, n=4)):
            assert (outcome.ledger.samples, outcome.ledger.generated) == (1, STEP)
    for budget, named in (
        (caps(max_tokens=STEP - 1), r"budget.max_tokens=63"),
        (caps(max_samples=9, max_flops=one_step - 1.0), rf"budget.max_samples=9, budget.max_flops={one_step - 1.0}"),
    ):
        with pytest.raises(ValueError, match=rf"^the budget \({named}\) is below the worst-case cost of one step"):
            list(engine(budget).run(TASK.problems(), strategy("rebase", TASK, n=4)))


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(STRATEGIES),
    n=st.sampled_from([4, 8]),
    cap=st.sampled_from(["tokens", "flops"]),
    fraction=st.floats(0.05, 0.95),
)
def test_a_binding_cap_is_spent_to_within_one_worst_case_sample(name, n, cap, fraction):
    check_a_binding_cap_is_spent_to_within_one_worst_case_sample(name, n, cap, fraction)


@pytest.mark.parametrize("name, cap", list(zip(STRATEGIES, itertools.cycle(["tokens", "flops"]))))
def test_a_binding_cap_at_half_the_free_run_is_spent_to_within_one_worst_case_sample(name, cap):
    """Every strategy on one cap, token and FLOP caps in turn (the property above draws many; slow)."""
    check_a_binding_cap_is_spent_to_within_one_worst_case_sample(name, 4, cap, 0.5)


def check_a_binding_cap_is_spent_to_within_one_worst_case_sample(name: str, n: int, cap: str, fraction: float) -> None:
    # Run uncapped, then with a cap at a fraction of what that run spent. If the cap cut
    # the search (fewer samples), what is left under it must be less than the worst case
    # of one more sample: a step (or a whole solution) at the longest possible context,
    # its prompt prefilled from scratch, or one reward call on the longest trajectory.
    chosen = strategy(name, TASK, n=n)
    free = {o.problem.id: o.ledger for o in engine(caps()).run(TASK.problems(), chosen)}
    longest = PROMPT + WHOLE
    sample = WHOLE if name in WHOLE_SOLUTIONS else STEP
    worst = {
        "tokens": sample,
        "flops": max(
            spec().flops_span(0, longest) + spec().flops_span(longest, sample),
            spec().flops_span(0, longest + 8),  # the PRM reads the prompt, the steps and a tag per step
        ),
    }[cap]
    for problem in TASK.problems():
        spent = free[problem.id].generated if cap == "tokens" else free[problem.id].flops_total
        limit = max(1, int(fraction * spent)) if cap == "tokens" else fraction * spent
        budget = caps(max_tokens=limit) if cap == "tokens" else caps(max_flops=limit)
        try:
            (outcome,) = engine(budget).run([problem], strategy(name, TASK, n=n))
        except ValueError as error:
            assert "below the worst-case cost of one step" in str(error)
            assert limit < worst
            continue
        used = outcome.ledger.generated if cap == "tokens" else outcome.ledger.flops_total
        assert used <= limit
        if outcome.ledger.samples < free[problem.id].samples:
            assert limit - used < worst, f"{name}: {limit - used} left under the cap, one sample costs {worst}"
