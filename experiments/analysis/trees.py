"""Per-run search-tree viewer: `trees.html` beside a run's `trees/` folder (save_trees=true).

One self-contained page (inline SVG and JavaScript, no network): pick a problem, see its tree
top-down; node colour is the PRM score of the node's last step (red 0 -> green 1, grey
unscored), finished nodes are squares, pruned ones (leaves that never finished) hollow, and the
chosen solution's path is drawn thick. Hover a node for its step text; click it for the whole
path's text, its scores and answer.

The chosen node is the finished candidate the run answered with: among the record's candidates
whose answer is the run's answer, the highest-scored one (for a vote, the group's best
member), matched to its tree node by answer and step scores.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from infscale.search.node import file_safe

ASSETS = Path(__file__).with_name("assets")


def _chosen(record: dict[str, Any], nodes: list[dict[str, Any]]) -> int | None:
    winners = [c for c in record.get("candidates", []) if c["answer"] == record.get("answer")]
    if not winners or record.get("answer") is None:
        return None
    best = max(winners, key=lambda c: -1e9 if c["score"] is None else c["score"])
    for node in nodes:
        if (
            node.get("terminal")
            and node.get("answer") == best["answer"]
            and node.get("step_scores") == best["step_scores"]
        ):
            return int(node["id"])
    return None


def tree_data(run: Path) -> list[dict[str, Any]]:
    """Every saved tree of a run, with its problem's outcome and the chosen node."""
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines() if line.strip()]
    out = []
    for record in records:
        path = run / "trees" / f"{file_safe(record['problem_id'])}.json"
        if not path.exists():
            continue
        graph = json.loads(path.read_text())
        parent = {e["target"]: e["source"] for e in graph["edges"]}
        nodes = [
            {
                "id": n["id"],
                "parent": parent.get(n["id"]),
                "text": n.get("text") or "",
                "score": (n.get("step_scores") or [None])[-1] if n.get("step_scores") is not None else None,
                "step_scores": n.get("step_scores"),
                "terminal": bool(n.get("terminal")),
                "answer": n.get("answer"),
                "depth": n.get("depth", 0),
            }
            for n in graph["nodes"]
        ]
        out.append(
            {
                "problem_id": record["problem_id"],
                "answer": record.get("answer"),
                "reference": record.get("reference"),
                "correct": bool(record.get("correct")),
                "chosen": _chosen(record, graph["nodes"]),
                "nodes": nodes,
            }
        )
    return out


def tree_page(run: Path, title: str | None = None) -> str:
    """The viewer as one HTML string (data and code inline)."""
    data = tree_data(run)
    if not data:
        raise ValueError(f"{run}: no trees/ to show (run it with save_trees=true)")
    payload = json.dumps(data).replace("</", "<\\/")
    return (
        (ASSETS / "trees.html")
        .read_text()
        .replace("__TITLE__", html.escape(title or run.name))
        .replace("__SCRIPT__", (ASSETS / "trees.js").read_text())
        .replace("__DATA__", payload)
    )


def write_tree_page(run: Path, title: str | None = None) -> Path:
    out = run / "trees.html"
    out.write_text(tree_page(run, title))
    return out
