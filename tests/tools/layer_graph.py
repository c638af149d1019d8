"""The import graph of `infscale`, collapsed to the layer folders and experiments' roles.

    python -m tests.tools.layer_graph           # draws docs/layers.png (make layers)
    python -m tests.tools.layer_graph --check   # only the check: no cycle, no upward edge

grimp (import-linter's graph) reads the package from the checkout; each module counts toward
the folder (or experiments/ role) it lives in, and an edge A -> B carries the number of
module pairs where a module of A imports one of B. The rows, top to bottom, are the layers of
pyproject.toml's import-linter contracts: a layer that is the container of another contract
(`infscale.experiments`) is replaced by that contract's layers. A package no contract names
(`conf/`, YAML only) goes in a last row.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import grimp
import networkx as nx
from importlinter.contracts.layers import LayerField

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
PICTURE = REPO / "docs" / "layers.png"
ROOT = "infscale"


@dataclass(frozen=True)
class Row:
    """One layer: its modules, whether they may import each other (import-linter's `:`), and
    whether a contract names it (the last row, of packages no contract names, does not)."""

    modules: tuple[str, ...]
    independent: bool = True
    in_contract: bool = True


def row(raw: str, container: str = "") -> Row:
    """One layer as import-linter reads it (`a | b`, `a : b`, `(optional)`), names in full."""
    layer = LayerField().parse(raw)
    return Row(
        tuple(sorted(".".join(filter(None, (container, t.name))) for t in layer.module_tails)), layer.is_independent
    )


def layer_rows(pyproject: Path = PYPROJECT) -> list[Row]:
    """The layers of pyproject's `layers` contracts, top to bottom, containers expanded."""
    contracts = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]["contracts"]
    inner: dict[str, list[Row]] = {}
    outer: list[list[Row]] = []
    for contract in (c for c in contracts if c["type"] == "layers"):
        containers = contract.get("containers", [])
        for container in containers or [""]:
            rows = [row(raw, container) for raw in contract["layers"]]
            if containers:
                inner[container] = rows
            else:
                outer.append(rows)
    if len(outer) != 1:
        raise ValueError(f"{pyproject}: expected one layers contract without containers, found {len(outer)}")

    def expand(rows: list[Row]) -> list[Row]:
        return [r for row in rows for r in (expand(inner[row.modules[0]]) if row.modules[0] in inner else [row])]

    return expand(outer[0])


def collapse(graph: grimp.ImportGraph, groups: list[str]) -> nx.DiGraph:
    """One node per group (a module and everything under it); edge attribute `imports`: the
    number of (importer, imported) module pairs between two groups."""
    ordered = sorted(groups, key=len, reverse=True)

    def group_of(module: str) -> str | None:
        return next((g for g in ordered if module == g or module.startswith(g + ".")), None)

    counts: Counter[tuple[str, str]] = Counter()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            pair = (group_of(module), group_of(imported))
            if None not in pair and pair[0] != pair[1]:
                counts[pair] += 1
    collapsed = nx.DiGraph()
    collapsed.add_nodes_from(groups)
    collapsed.add_edges_from((a, b, {"imports": n}) for (a, b), n in counts.items())
    return collapsed


def violations(graph: nx.DiGraph, rows: list[Row]) -> list[str]:
    """Cycles, and edges that go up the rows or between independent siblings, one line each, sorted."""
    row_of = {m: (i, row) for i, row in enumerate(rows) if row.in_contract for m in row.modules}
    found = [f"cycle: {' -> '.join([*cycle, cycle[0]])}" for cycle in nx.simple_cycles(graph)]
    for a, b in graph.edges:
        if a in row_of and b in row_of:
            (i, row), (j, _) = row_of[a], row_of[b]
            if j < i or (j == i and row.independent):
                found.append(f"upward: {a} (row {i}) imports {b} (row {j}), {graph.edges[a, b]['imports']} imports")
    return sorted(found)


def package_graph(pyproject: Path = PYPROJECT) -> tuple[nx.DiGraph, list[Row]]:
    """The collapsed graph of the package as the checkout has it, and its rows (the packages no
    contract names in a last row)."""
    rows = layer_rows(pyproject)
    graph = grimp.build_graph(ROOT, cache_dir=None)
    named = {m for row in rows for m in row.modules}
    inside = {m.rsplit(".", 1)[0] for m in named} | named
    others = tuple(sorted(m for m in graph.find_children(ROOT) if m not in inside))
    if others:
        rows = [*rows, Row(others, in_contract=False)]
    return collapse(graph, [m for row in rows for m in row.modules]), rows


def folder(module: str) -> str:
    """`infscale.experiments.app` -> `experiments/app/`, `infscale.experiments.stats` -> `experiments/stats.py`."""
    spec = importlib.util.find_spec(module)
    path = module.removeprefix(ROOT + ".").replace(".", "/")
    return path + ("/" if spec is not None and spec.submodule_search_locations is not None else ".py")


def positions(rows: list[Row]) -> dict[str, tuple[float, float]]:
    """One row per layer, top to bottom; the modules of a row side by side, a row of one module
    a step left or right of the one above, so that an edge skipping rows passes beside them."""
    return {
        module: (3.0 * (k - (len(row.modules) - 1) / 2) + (0.0 if len(row.modules) > 1 else 0.8 * (-1) ** i), -float(i))
        for i, row in enumerate(rows)
        for k, module in enumerate(row.modules)
    }


def bend(start: tuple[float, float], end: tuple[float, float]) -> float:
    """arc3's rad for an edge: straight between adjacent rows; a longer edge arcs outwards, away
    from the middle, the more the longer it is (going down, a positive rad bends it west)."""
    span = start[1] - end[1]
    if span <= 1:
        return 0.0
    size = min(0.12 + 0.04 * span, 0.4)
    return size if start[0] + end[0] <= 0 else -size


def draw(graph: nx.DiGraph, rows: list[Row], path: Path = PICTURE) -> None:
    """The graph as a PNG: one colour per importing folder, its edges labelled with their counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pos = positions(rows)
    importers = sorted({a for a, _ in graph.edges}, key=lambda m: (-pos[m][1], pos[m][0]))
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(10, 1.2 * len(rows) + 1))
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color="none")  # for the axes' limits
    for a, b, data in graph.edges(data=True):
        style = f"arc3,rad={bend(pos[a], pos[b]):.2f}"
        colour = colours(importers.index(a) % 10)
        nx.draw_networkx_edges(
            graph,
            pos,
            [(a, b)],
            ax=ax,
            node_size=1100,
            arrowsize=12,
            edge_color=[colour],
            connectionstyle=style,
            width=0.6 + 0.3 * data["imports"] ** 0.5,
        )
        nx.draw_networkx_edge_labels(
            graph,
            pos,
            {(a, b): data["imports"]},
            ax=ax,
            font_size=8,
            font_color=colour,
            connectionstyle=style,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colour, "lw": 0.5},
        )
    labels = {m: folder(m) for m in graph}
    nx.draw_networkx_labels(
        graph, pos, labels, ax=ax, font_size=10, bbox={"boxstyle": "round,pad=0.4", "fc": "#dde8f5", "ec": "#4a6fa5"}
    )
    ax.set_title("infscale: which folder imports which (arrow: imports; label: importing module pairs)", fontsize=11)
    note = (
        "Rows: the layers of pyproject.toml's import-linter contracts, top to bottom; a folder imports only rows below."
    )
    for row in (r for r in rows if not r.in_contract):
        note += f"\nLast row: in no contract ({', '.join(folder(m) for m in row.modules)})."
    fig.text(0.5, 0.01, note, ha="center", fontsize=9, color="#444444")
    ax.margins(0.05)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check: no cycle, no upward edge")
    parser.add_argument("--out", type=Path, default=PICTURE, help="the picture (PNG)")
    args = parser.parse_args(argv)
    graph, rows = package_graph()
    for problem in violations(graph, rows):
        print(problem)
    if not args.check:
        draw(graph, rows, args.out)
        print(f"{args.out}: {graph.number_of_nodes()} folders, {graph.number_of_edges()} edges")
    return 1 if violations(graph, rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
