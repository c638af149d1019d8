"""Budget arithmetic on a ledger set by hand: how many samples fit, where the boundaries
lie (a cost that lands exactly on the cap fits), and the errors when a count is unknown."""

import re

import pytest

from infscale.budgets.budget import Budget
from infscale.budgets.ledger import Ledger
from infscale.budgets.model_spec import ModelSpec
from infscale.budgets.pool import Pool, Reservation
from infscale.experiments.app.build import build
from tests.conftest import make_config
from tests.test_flops_by_hand import TINY

SPEC = ModelSpec.from_config(TINY)


def caps(max_samples=None, max_tokens=None, max_flops=None) -> Budget:
    return Budget(max_samples=max_samples, max_tokens=max_tokens, max_flops=max_flops)


def ledger(samples=0, generated=0, flops=0.0) -> Ledger:
    book = Ledger(policy=SPEC, reward=SPEC)
    book.samples, book.generated, book.flops_decode = samples, generated, flops
    return book


def test_samples_and_tokens_that_fit():
    assert caps().affordable_samples(ledger(), 7, 10, 0.0, 1.0) == 7
    assert caps(max_samples=5).affordable_samples(ledger(samples=3), 7, 10, 0.0, 1.0) == 2
    assert caps(max_samples=5).affordable_samples(ledger(samples=5), 7, 10, 0.0, 1.0) == 0
    # 100 - 37 = 63 tokens left: 6 samples of 10, 63 of 1 (capped by the 7 wanted), 2 of 30
    assert caps(max_tokens=100).affordable_samples(ledger(generated=37), 7, 10, 0.0, 1.0) == 6
    assert caps(max_tokens=100).affordable_samples(ledger(generated=37), 70, 1, 0.0, 1.0) == 63
    assert caps(max_tokens=100).affordable_samples(ledger(generated=37), 7, 30, 0.0, 1.0) == 2
    assert caps(max_tokens=100).affordable_samples(ledger(generated=40), 7, 60, 0.0, 1.0) == 1  # exactly
    assert caps(max_tokens=100).affordable_samples(ledger(generated=41), 7, 60, 0.0, 1.0) == 0
    # the tightest cap wins
    assert caps(max_samples=4, max_tokens=100).affordable_samples(ledger(samples=1), 7, 10, 0.0, 1.0) == 3


def test_flops_that_fit_after_the_prompt():
    # 1000 - 100 spent - 50 prefill = 850 left: 8 samples of 100, 850 of 1 (capped at 900 wanted)
    budget = caps(max_flops=1000.0)
    assert budget.affordable_samples(ledger(flops=100.0), 9, 1, 50.0, 100.0) == 8
    assert budget.affordable_samples(ledger(flops=100.0), 900, 1, 50.0, 1.0) == 850
    assert budget.affordable_samples(ledger(flops=100.0), 9, 1, 50.0, 425.0) == 2  # 850 / 425: exactly
    assert budget.affordable_samples(ledger(flops=100.0), 9, 1, 50.0, 425.5) == 1
    assert budget.affordable_samples(ledger(flops=100.0), 9, 1, 900.0, 1.0) == 0  # the prefill fills it
    assert budget.affordable_samples(ledger(flops=100.0), 9, 1, 900.0, 0.0) == 9  # ... and free samples fit
    assert budget.affordable_samples(ledger(flops=100.0), 9, 1, 901.0, 0.0) == 0  # the prefill alone is over
    assert budget.affordable_samples(ledger(flops=100.0), 9, 1, 50.0, 0.0) == 9  # free samples: all fit


def test_one_reward_call_fits_up_to_exactly_the_cap():
    assert caps().affords_flops(ledger(flops=1e9), None)
    assert caps(max_flops=1000.0).affords_flops(ledger(flops=600.0), 400.0)
    assert not caps(max_flops=1000.0).affords_flops(ledger(flops=600.0), 400.5)


def test_a_cap_on_an_unknown_count_is_an_error_naming_the_cap():
    unknown_tokens = ledger(generated=None)
    with pytest.raises(ValueError, match=r"^budget.max_tokens needs token counts, and this policy reports none$"):
        caps(max_tokens=100).affordable_samples(unknown_tokens, 1, 1, 0.0, 1.0)
    message = r"^budget.max_flops needs FLOP counts, and this backend reports none$"
    for spent, fixed, each in ((None, 0.0, 1.0), (0.0, None, 1.0), (0.0, 0.0, None)):
        with pytest.raises(ValueError, match=message):
            caps(max_flops=100.0).affordable_samples(ledger(flops=spent), 1, 1, fixed, each)
    for spent, flops in ((None, 1.0), (0.0, None)):
        with pytest.raises(ValueError, match=message):
            caps(max_flops=100.0).affords_flops(ledger(flops=spent), flops)
    # without that cap, an unknown count is no error
    assert caps(max_samples=3).affordable_samples(ledger(generated=None, flops=None), 5, 1, None, None) == 3


def test_to_dict_names_every_cap():
    assert caps(max_samples=1, max_tokens=2, max_flops=3.0).to_dict() == {
        "max_samples": 1,
        "max_tokens": 2,
        "max_flops": 3.0,
    }


@pytest.mark.parametrize("key", ["max_samples", "max_tokens", "max_flops"])
def test_every_cap_from_the_config_must_be_positive(key):
    for bad in (0, -5, "many"):
        with pytest.raises(ValueError, match=rf"budget.{key} must be a positive number, got {bad!r}"):
            build(make_config(f"budget.{key}={bad}"))
    assert getattr(build(make_config(f"budget.{key}=1000")).budget, key) == 1000
    assert build(make_config("budget=none")).budget.to_dict() == dict.fromkeys(
        ("max_samples", "max_tokens", "max_flops")
    )


def test_small_positive_caps_are_accepted_and_unknown_keys_named():
    assert build(make_config("budget.max_samples=1")).budget.max_samples == 1
    assert build(make_config("budget.max_flops=0.5")).budget.max_flops == 0.5
    with pytest.raises(
        ValueError, match=r"budget 'none' has no option\(s\) max_time, wall; did you mean max_tokens\?$"
    ):
        build(make_config("+budget.wall=3", "+budget.max_time=1"))


def test_the_pool_reserves_worst_cases_and_settles_what_was_spent_by_hand():
    pool = Pool(total_flops=1000.0, total_tokens=100)
    assert (pool.left_flops, pool.left_tokens) == (1000.0, 100)
    # tokens: 100 // 30 = 3 samples; FLOPs: (1000 - 100) / 250 = 3.6 -> 3
    assert pool.affordable(5, 30, 100.0, 250.0) == 3 and pool.affordable(2, 30, 100.0, 250.0) == 2
    assert pool.affordable(5, 10, 1001.0, 1.0) == 0  # the one-off part alone does not fit
    assert pool.affordable(5, 10, 1000.0, 1.0) == 0 and pool.affordable(5, 10, 999.0, 0.5) == 2  # room 0, room 1
    assert pool.affordable(5, 0, 0.0, 0.0) == 5  # free samples
    reserved = pool.reserve(600.0, 60)
    assert reserved == Reservation(600.0, 60) and (pool.left_flops, pool.left_tokens) == (400.0, 40)
    assert pool.reserve(400.5, 1) is None and pool.reserve(1.0, 41) is None  # nothing reserved
    assert (pool.reserved_flops, pool.reserved_tokens) == (600.0, 60)
    exact = pool.reserve(400.0, 40)  # exactly what is left fits
    pool.settle(reserved, 500.0, 50)
    assert (pool.spent_flops, pool.spent_tokens, pool.reserved_flops, pool.reserved_tokens) == (500.0, 50, 400.0, 40)
    pool.settle(exact, None, None)  # unknown counts charge nothing
    assert (pool.left_flops, pool.left_tokens) == (500.0, 50)
    over = pool.reserve(100.0, 10)
    with pytest.raises(
        ValueError, match=r"^a backend charged 200 FLOPs / 5 tokens, over the worst case reserved \(100 / 10\)"
    ):
        pool.settle(over, 200.0, 5)
    with pytest.raises(ValueError, match="over the worst case reserved"):
        pool.settle(over, 50.0, 11)
    pool.settle(over, 100.00000001, 10)  # float rounding is no overcharge, and charges the reservation at most
    assert (pool.spent_flops, pool.spent_tokens) == (600.0, 60)
    pool.charge(25.0, 5)
    pool.charge(None, None)
    assert pool.to_dict() == {
        "total_flops": 1000.0,
        "total_tokens": 100,
        "spent_flops": 625.0,
        "spent_tokens": 65,
        "left_flops": 375.0,
        "left_tokens": 35,
    }


def test_a_pool_of_tokens_only_needs_no_flop_counts_and_bad_pools_are_refused():
    tokens = Pool(total_flops=None, total_tokens=10)
    assert tokens.reserve(None, 10) == Reservation(0.0, 10) and tokens.left_flops is None
    assert tokens.affordable(5, 3, None, None) == 0  # all 10 reserved
    flops = Pool(total_flops=10.0, total_tokens=None)
    with pytest.raises(ValueError, match="budget.total_flops needs FLOP counts, and this backend reports none"):
        flops.reserve(None, 1)
    with pytest.raises(ValueError, match="budget.total_flops needs FLOP counts, and this backend reports none"):
        flops.affordable(1, 1, None, 1.0)
    assert flops.affordable(7, 1000, 0.0, 1.5) == 6 and flops.left_tokens is None  # tokens uncapped
    for total_flops, total_tokens, message in [
        (0, None, "budget.total_flops must be a positive number or null, got 0"),
        (None, True, "budget.total_tokens must be a positive number or null, got True"),
        (-1.0, 5, "budget.total_flops must be a positive number or null, got -1.0"),
        (None, None, "a data-set pool needs budget.total_flops or budget.total_tokens"),
    ]:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            Pool(total_flops=total_flops, total_tokens=total_tokens)


def test_pool_edges_free_samples_a_fixed_cost_alone_and_overcharges_by_a_hair():
    pool = Pool(total_flops=1000.0, total_tokens=100)
    assert pool.affordable(200, 0, 0.0, 0.0) == 100  # free tokens: 100 // 1
    assert pool.affordable(5, 1, 2000.0, 0.0) == 0  # the one-off part alone is over: none, even if samples are free
    assert pool.affordable(5, 1, 1000.0, 0.0) == 5  # it fits exactly: free samples all fit
    assert pool.affordable(5, 1, 999.5, 0.25) == 2  # half a FLOP of room: two samples of a quarter
    assert Pool(total_flops=1.0, total_tokens=1).left_tokens == 1  # the smallest pools are pools
    reserved = pool.reserve(100.0, 10)
    with pytest.raises(ValueError, match="over the worst case reserved"):
        pool.settle(reserved, 100.5, 10)  # half a FLOP over: an inconsistent backend
    pool.settle(reserved, 100.0 * (1 + 1e-9) + 1e-6, 10)  # exactly at the rounding allowance: accepted
    flops_only = Pool(total_flops=10.0, total_tokens=None)
    for call in (lambda: flops_only.reserve(None, 1), lambda: flops_only.affordable(1, 1, None, 1.0)):
        with pytest.raises(ValueError, match="^budget.total_flops needs FLOP counts, and this backend reports none$"):
            call()
