"""docs/strategies.md against the code it describes: the REBASE width examples and the
parity tests' world counts are read from the text, so doc and code cannot drift apart."""

from __future__ import annotations

import importlib
import inspect
import itertools
import math
import re
from pathlib import Path

import pytest
import torch
from _pytest.mark.structures import ParameterSet

from infscale.search.strategies.rebase import balance

DOC = " ".join((Path(__file__).parents[1] / "docs" / "strategies.md").read_text().split())
EXAMPLE = re.compile(
    r"scores \[([^\]]+)\], W = (\d+), T = ([\d.]+),? the reference gives \[([^\]]+)\] (?:and|where) "
    r"the rule gives \[([^\]]+)\]"
)


def numbers(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def reference_widths(scores: list[float], width: int, temperature: float) -> list[int]:
    """thu-wyz/inference_scaling rebase.py `Tree.select_softmax`'s arithmetic: float32 tensors."""
    exp_weights = torch.exp(torch.tensor(sorted(scores, reverse=True)) / temperature)
    total, widths = exp_weights.sum(), []
    for weight in exp_weights:
        share = int(math.ceil(width * weight / total))
        widths.append(share)
        width -= share
        total -= weight
    return widths


def test_every_rebase_width_example_holds_for_the_rule_and_the_reference():
    examples = EXAMPLE.findall(DOC)
    assert len(examples) == 3  # the worked example and two float32 round-ups
    for scores, width, temperature, reference, rule in examples:
        args = numbers(scores), int(width), float(temperature)
        assert balance(*args) == [int(x) for x in numbers(rule)], scores
        assert reference_widths(*args) == [int(x) for x in numbers(reference)], scores
        assert sum(balance(*args)) == int(width)


def test_the_worked_example_by_hand():
    e = math.exp
    first = math.ceil(27 * e(3) / (e(3) + 2 * e(2.5)))
    assert (27 * e(3) / (e(3) + 2 * e(2.5)), first) == (pytest.approx(12.20, abs=0.005), 13)
    assert balance([0.6, 0.5, 0.5], 27, 0.2) == [first, 7, 7]


def values(case: object, names: str) -> tuple:
    """One parametrize case's values, whether written bare or as pytest.param (the parity grids
    are split into a fast first world and a slow rest)."""
    if isinstance(case, ParameterSet):
        return case.values
    return case if "," in names else (case,)


def parity_worlds(name: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many worlds tests/test_parity_<name>.py runs: its tests called with every
    parametrisation, `run_both` (one world each) counted instead of run."""
    module = importlib.import_module(f"tests.test_parity_{name}")
    assert "ScriptedTask(n=2)" in inspect.getsource(module.run_both)
    calls = []
    monkeypatch.setattr(module, "run_both", lambda *a, **k: calls.append(a))
    for test in [v for k, v in vars(module).items() if k.startswith("test_") and callable(v)]:
        marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
        grids = [[dict(zip(m.args[0].split(","), values(v, m.args[0]))) for v in m.args[1]] for m in marks]
        for combo in itertools.product(*grids):
            test(**{k: v for part in combo for k, v in part.items()})
    return len(calls)


@pytest.mark.parametrize("name", ["beam", "dvts", "rebase", "mcts"])
def test_parity_world_counts_in_the_doc_are_the_tests(name, monkeypatch):
    stated = re.search(rf"Parity: `tests/test_parity_{name}\.py`, (\d+) worlds of two problems each", DOC)
    assert stated is not None
    assert int(stated.group(1)) == parity_worlds(name, monkeypatch)
