"""Answer equivalence with math-verify, under a hard per-comparison timeout.

math-verify guards its parser and comparer with `signal.alarm`, which (a) only works in the
main thread (elsewhere `signal.signal` raises), (b) has whole-second resolution and (c)
cannot interrupt work done inside C code (sympy comparing `9^{9^{9}}` with a number runs
until math-verify's own 10 s alarm). So the comparisons run in a child process that this
module owns: the parent waits at most `timeout_s` for each verdict, and on a timeout kills
the child, counts the pair as not equivalent (with a warning) and starts a fresh child.
That works from any thread and bounds every call. The child keeps a cache of parsed
answers, the parent a cache of verdicts, so voting over many samples parses each distinct
answer once.
"""

from __future__ import annotations

import atexit
import json
import logging
import re
import select
import subprocess
import sys
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_S = 5.0
_STARTUP_S = 120.0
_CACHE_SIZE = 50_000
_SPACING = re.compile(r"\\[,;:!]|\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\displaystyle")
_FRAC = re.compile(r"\\[dt]frac")
_WHITESPACE = re.compile(r"\s+")


def answer_key(answer: str) -> str:
    """A cheap canonical form; equal keys imply equivalent answers.

    Only changes that cannot alter the meaning are made: surrounding `$` and spaces,
    LaTeX spacing commands, `\\left`/`\\right`, `\\dfrac`/`\\tfrac` -> `\\frac`, runs of white
    space collapsed to one space.
    """
    key = answer.strip().strip("$").strip()
    key = _SPACING.sub("", key)
    key = _FRAC.sub(r"\\frac", key)
    return _WHITESPACE.sub(" ", key).strip()


class _LRU(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


def _as_math(answer: str) -> str:
    """An extracted answer as math-verify input: inline LaTeX."""
    return "$" + answer.strip().strip("$").strip() + "$"


def _serve() -> None:
    """Child process: read `[gold, pred]` JSON lines on stdin, answer "1"/"0" lines."""
    logging.getLogger("latex2sympy2_extended").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    from math_verify import parse, verify

    parsed = _LRU(_CACHE_SIZE)

    def get(text: str) -> list:
        if text not in parsed:
            try:
                parsed.put(text, parse(_as_math(text)))
            except Exception:  # a parser crash means "unparseable", never a worker crash
                parsed.put(text, [])
        return parsed[text]

    print("ready", flush=True)
    for line in sys.stdin:
        try:
            gold, pred = json.loads(line)
            verdict = bool(verify(get(gold), get(pred)))
        except Exception:
            verdict = False
        print("1" if verdict else "0", flush=True)


class Grader:
    """`equivalent(gold, pred)`: math-verify's verdict, at most `timeout_s` per new pair.

    The child is a plain `python tasks/grading.py` subprocess (not multiprocessing), so it
    never re-imports the caller's `__main__` and is safe to start from any thread.
    """

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if not timeout_s > 0:
            raise ValueError(f"grading timeout_s must be positive, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        self.timeouts = 0
        self._verdicts = _LRU(_CACHE_SIZE)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._ready = False

    def _start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-u", str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._ready = False

    def _readline(self, timeout_s: float) -> str | None:
        """One line from the child, or None when none arrives within `timeout_s`."""
        assert self._process is not None and self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], max(0.0, timeout_s))
        if not ready:
            return None
        line = self._process.stdout.readline()
        if not line:
            raise EOFError("grader process exited")
        return line.strip()

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
        self._process, self._ready = None, False

    def warm_up(self) -> None:
        """Start the child and load math-verify now rather than on the first comparison."""
        self._ask("1", "2")

    def close(self) -> None:
        with self._lock:
            self._kill()

    def equivalent(self, gold: str, pred: str) -> bool:
        """Is `pred` the same mathematical answer as `gold` (math-verify's `verify`)?"""
        if not isinstance(gold, str) or not isinstance(pred, str):
            raise ValueError(f"answers to grade must be strings, got {type(gold).__name__} and {type(pred).__name__}")
        if not gold.strip() or not pred.strip():
            return False
        if answer_key(gold) == answer_key(pred):
            return True
        return self.verify(gold, pred)

    def verify(self, gold: str, pred: str) -> bool:
        """math-verify's verdict alone (no textual shortcut), cached per pair."""
        key = (gold, pred)
        if key not in self._verdicts:
            self._verdicts.put(key, self._ask(gold, pred))
        return self._verdicts[key]

    def _ask(self, gold: str, pred: str) -> bool:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._kill()
                self._start()
            try:
                if not self._ready:
                    if self._readline(_STARTUP_S) != "ready":
                        raise EOFError(f"grader process did not start within {_STARTUP_S:g} s")
                    self._ready = True
                assert self._process is not None and self._process.stdin is not None
                self._process.stdin.write(json.dumps([gold, pred]) + "\n")
                self._process.stdin.flush()
                answer = self._readline(self.timeout_s)
            except (EOFError, OSError) as error:
                self._kill()
                warnings.warn(
                    f"grader failed ({error}) on {pred[:60]!r} vs {gold[:60]!r}; counted as different", stacklevel=2
                )
                return False
            if answer is not None:
                return answer == "1"
            self._kill()
            self._start()
            self.timeouts += 1
        warnings.warn(
            f"grading {pred[:60]!r} against {gold[:60]!r} exceeded {self.timeout_s:g} s; counted as different",
            stacklevel=2,
        )
        return False


_GRADERS: dict[float, Grader] = {}


def grader(timeout_s: float = DEFAULT_TIMEOUT_S) -> Grader:
    """The process-wide grader for this timeout (one child process each)."""
    if timeout_s not in _GRADERS:
        _GRADERS[timeout_s] = Grader(timeout_s)
    return _GRADERS[timeout_s]


@atexit.register
def _close_all() -> None:
    for g in _GRADERS.values():
        g.close()


if __name__ == "__main__":
    _serve()
