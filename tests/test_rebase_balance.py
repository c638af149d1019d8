import math

from hypothesis import given, settings
from hypothesis import strategies as st

from infscale.search.strategies.rebase import balance

scores = st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(scores=scores, width=st.integers(min_value=1, max_value=256), temperature=st.sampled_from([0.05, 0.1, 0.2, 1.0]))
def test_widths_sum_to_the_remaining_width_by_sequential_ceil(scores, width, temperature):
    scores = sorted(scores, reverse=True)
    widths = balance(scores, width, temperature)
    assert sum(widths) == width
    assert all(w >= 0 for w in widths)
    weights = [math.exp(s / temperature) for s in scores]
    left, weight_left = width, sum(weights)
    for j, (w, weight) in enumerate(zip(widths, weights)):
        exact = left * weight / weight_left
        if j < len(widths) - 1:
            # ceil of the exact share, up to float rounding at integer boundaries
            assert w == min(left, math.ceil(exact)) or abs(exact - round(exact)) < 1e-6
        left -= w
        weight_left -= weight
    assert left == 0


def test_worked_example_from_the_rule():
    # W=10, T=1: weights e^1, e^0.5, e^0 -> ceil(10*0.506)=6, ceil(4*0.622)=3, 1
    assert balance([1.0, 0.5, 0.0], 10, 1.0) == [6, 3, 1]


def test_high_scores_take_the_width_at_low_temperature():
    assert balance([0.9, 0.1, 0.1], 8, 0.01) == [8, 0, 0]


def test_a_tiny_temperature_neither_overflows_nor_splits():
    # exp(1.0 / 0.001) overflows a float: the split must work on score differences
    assert balance([1.0, 0.9], 4, 0.001) == [4, 0]


@settings(max_examples=400, deadline=None)
@given(
    scores=st.lists(st.floats(min_value=-800.0, max_value=800.0, allow_nan=False), min_size=1, max_size=40),
    width=st.integers(min_value=1, max_value=256),
    temperature=st.sampled_from([0.001, 0.05, 0.1, 0.2, 1.0, 3.0]),
)
def test_shares_are_the_exact_fraction_ceil_of_the_float_weights(scores, width, temperature):
    # balance scales the weights to integers instead of using Fraction; the shares must be
    # the same, underflowing weights (exp of a score far below the top) included
    from fractions import Fraction

    top = max(scores)
    weights = [Fraction(math.exp((s - top) / temperature)) for s in scores]
    expected, left, weight_left = [], width, sum(weights)
    for weight in weights:
        share = 0 if left <= 0 or weight_left == 0 else min(left, math.ceil(left * weight / weight_left))
        expected.append(share)
        left -= share
        weight_left -= weight
    assert balance(scores, width, temperature) == expected
