"""The fenced code blocks of the project's markdown pages, for the tests that run them
(tests/test_tutorial.py, tests/test_doc_commands.py).

A block's language is its fence's tag: untagged blocks are shell commands, `text` blocks
are neither run nor parsed. A block right after a line `**The file** `path`:` or
`**The YAML** `path`:` is that file's content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
_LABEL = re.compile(r"\*\*The (?:file|YAML)\*\* `([^`]+)`:$")
_COMMENT = re.compile(r"\s+#\s.*$")


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    path: str | None  # the file it is the content of, where the page says so


def blocks(page: str) -> list[Block]:
    """Every fenced block of `page` (a path relative to the repository), in page order."""
    text = (REPO / page).read_text()
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        label = _LABEL.search(before[-1]) if before else None
        found.append(Block(match.group(1), match.group(2), label.group(1) if label else None))
    return found


def commands(page: str) -> list[str]:
    """The shell commands of `page`'s untagged blocks: continued lines joined, comments dropped."""
    found = []
    for block in blocks(page):
        if block.lang:
            continue
        for line in block.text.replace("\\\n", " ").splitlines():
            line = _COMMENT.sub("", line).strip()
            if line and not line.startswith("#"):
                found.append(" ".join(line.split()))
    return found


def write_files(page: str, folder: Path) -> list[Path]:
    """Write every block that `page` names a file for under `folder`; the paths written."""
    written = []
    for block in blocks(page):
        if block.path is not None:
            target = folder / block.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text)
            written.append(target)
    return written
