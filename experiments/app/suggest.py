"""'did you mean X?' for a misspelt key or option (difflib), shared by the config builder and
the commands' error boundary."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, options: Iterable[str]) -> str:
    """'; did you mean X?' for the option closest to `word`, else ''."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""
