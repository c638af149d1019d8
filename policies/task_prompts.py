"""Telling a task's problem prompt from the steps a search appended to it."""

from __future__ import annotations

from collections.abc import Iterable


class TaskPrompts:
    """The problem prompts of a task, to split a request prompt into (problem, steps so far).

    Backends need the split to wrap only the problem in a chat template (`hf`), to pin every
    request of one problem to one server (`openai`), or to find a problem's recordings
    (`replay`). The longest matching prompt wins.
    """

    def __init__(self, prompts: Iterable[str]) -> None:
        self.prompts = set(prompts)
        self._lengths = sorted({len(p) for p in self.prompts}, reverse=True)

    def split(self, text: str) -> tuple[str, str] | None:
        for length in self._lengths:
            if text[:length] in self.prompts:
                return text[:length], text[length:]
        return None
