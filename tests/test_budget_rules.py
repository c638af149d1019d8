"""Budget arithmetic on a ledger set by hand: how many samples fit, where the boundaries
lie (a cost that lands exactly on the cap fits), and the errors when a count is unknown."""

import pytest

from infscale.budgets.budget import Budget
from infscale.budgets.ledger import Ledger
from infscale.budgets.model_spec import ModelSpec
from infscale.experiments.build import build
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
    with pytest.raises(ValueError, match=r"budget 'none' has no option\(s\) max_time, wall$"):
        build(make_config("+budget.wall=3", "+budget.max_time=1"))
