"""Allocators: how one data-set pool is split over problems, wave by wave.

An allocator sees every problem's state (its solutions so far, its ledger, its last
estimate) and the pool, and answers each wave with `grants`: how many more full solutions
each open problem draws next; it closes the problems it is done with, saying why. The
`WaveRunner` (search/allocators/waves.py) runs the waves on the engine. An allocator keeps
no state of its own: everything it decides is in the problem states, which are saved after
each wave, so a killed run resumes with the same decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infscale.search.allocators.state import ProblemState

# The `runner` argument is the search.allocators.waves.WaveRunner running the waves;
# typed Any here so that this module does not import it back (the package stays acyclic).
WaveRunner = Any


def positive_int(key: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"allocator.{key} must be a positive integer, got {value!r}")


def unit_interval(key: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"allocator.{key} must lie in [0, 1], got {value!r}")


@dataclass
class Allocator:
    """The base of every allocator; subclasses implement `grants` and may override `check`."""

    def check(self, runner: WaveRunner, states: list[ProblemState]) -> None:
        """Raise a one-line ValueError if the pool cannot serve this allocator at all."""

    def grants(self, runner: WaveRunner, states: list[ProblemState], wave: int) -> dict[str, int]:
        raise NotImplementedError

    def plan(self, runner: WaveRunner, states: list[ProblemState]) -> str:
        """How many solutions each problem will get, in words, for the line a run prints
        before it starts (the configured `strategy.n` does not say it: the allocator decides)."""
        raise NotImplementedError
