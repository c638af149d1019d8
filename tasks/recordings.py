"""Recorded samples: texts a model generated once, with their answers and reward scores,
played back by `policy=replay` and `reward=replay`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Recording:
    """One recorded solution. `scores` are raw reward-model outputs (per step, or one
    outcome score); `label` is the recorder's own correctness verdict, if it kept one."""

    text: str
    answer: str | None
    scores: tuple[float, ...]
    outcome: bool
    label: bool | None = None


def text_key(text: str) -> str:
    """Recordings are matched ignoring white space: a trajectory cut into steps and joined
    again may lose blank lines between steps, never other characters."""
    return _SPACE.sub("", text)


@runtime_checkable
class RecordedTask(Protocol):
    """A task that carries recordings: `recordings(prompt)` lists the samples of the problem
    whose prompt is `prompt` (empty when there are none)."""

    name: str

    def recordings(self, prompt: str) -> list[Recording]: ...
