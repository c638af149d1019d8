"""math-verify grading: equivalences, the hard timeout, threads, and a fuzz test."""

import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infscale.tasks.grading import Grader, answer_key

TIMEOUT_S = 1.0
# A fresh child's start-up (math-verify import) is not a comparison: warm_up() takes it.
SLACK_S = 1.0  # process kill and restart, IPC, a loaded machine; math-verify itself waits 10 s


@pytest.fixture(scope="module")
def grader():
    g = Grader(TIMEOUT_S)
    g.warm_up()
    yield g
    g.close()


@pytest.mark.parametrize(
    "gold, pred, same",
    [
        ("\\frac{1}{2}", "0.5", True),
        ("\\frac12", "1/2", True),
        ("2\\sqrt{2}", "\\sqrt{8}", True),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\pi/2)", True),
        ("(1,2)", "(2,1)", False),
        ("\\{1,2\\}", "\\{2,1\\}", True),
        ("10{,}000", "10000", True),
        ("3", "4", False),
        ("x=2", "2", True),
        ("\\text{(C)}", "C", True),
        ("", "1", False),
    ],
)
def test_equivalences(grader, gold, pred, same):
    assert grader.equivalent(gold, pred) is same


def test_answer_key_only_drops_layout():
    assert answer_key(" $\\left( 3,\\!\\dfrac{\\pi}{2} \\right)$ ") == "( 3,\\frac{\\pi}{2} )"
    assert answer_key("\\leftarrow") == "\\leftarrow"
    assert answer_key("1 2") != answer_key("12")


def test_pathological_comparison_is_cut_at_the_timeout(grader):
    # sympy compares 9^(9^9) with 5 inside C code; math-verify's own alarm waits 10 s.
    start = time.monotonic()
    assert grader.equivalent("9^{9^{9}}", "5") is False
    elapsed = time.monotonic() - start
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + SLACK_S
    assert grader.timeouts >= 1
    grader.warm_up()
    assert grader.equivalent("\\frac{3}{4}", "0.75") is True


def test_works_outside_the_main_thread(grader):
    # math-verify's signal-based timeout raises ValueError off the main thread.
    out = []
    worker = threading.Thread(target=lambda: out.append(grader.equivalent("\\sqrt{4}", "2")))
    worker.start()
    worker.join(30)
    assert out == [True]


def test_bad_input_is_a_clear_error(grader):
    with pytest.raises(ValueError, match="strings"):
        grader.equivalent(None, "1")
    with pytest.raises(ValueError, match="timeout_s"):
        Grader(0)


_LATEXISH = st.lists(
    st.sampled_from(
        [
            "\\frac{",
            "}",
            "{",
            "^",
            "_",
            "\\sqrt",
            "(",
            ")",
            "[",
            "]",
            ",",
            "x",
            "y",
            "9",
            "99",
            "0.",
            "-",
            "+",
            "=",
            "\\pi",
            "\\infty",
            "\\cup",
            "\\left(",
            "\\right)",
            "\\text{",
            "\\boxed{",
            "$",
            "\\",
            " ",
            "e",
            "i",
            "\\cdot",
            "!",
            "\\le",
            "%",
            "\\{",
            "\\}",
            "^{9^{9}}",
            "\\begin{pmatrix}",
            "&",
            "\\\\",
            "\\end{pmatrix}",
        ]
    ),
    min_size=1,
    max_size=14,
).map("".join)


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=_LATEXISH, b=_LATEXISH)
def test_fuzz_never_raises_and_never_outlasts_the_timeout(grader, a, b):
    grader.warm_up()
    start = time.monotonic()
    verdict = grader.equivalent(a, b)
    assert time.monotonic() - start < TIMEOUT_S + SLACK_S
    assert isinstance(verdict, bool)
