"""The folder-level import graph (tests/tools/layer_graph.py, docs/layers.png): acyclic, and no
edge against the layers pyproject.toml's import-linter contracts declare."""

from __future__ import annotations

from pathlib import Path

import grimp
import networkx as nx

from tests.tools.layer_graph import Row, collapse, layer_rows, package_graph, violations

CONTRACTS = """
[tool.importlinter]
root_package = "pkg"

[[tool.importlinter.contracts]]
name = "outer"
type = "layers"
layers = ["pkg.app", "pkg.left | pkg.right", "pkg.low : pkg.lower"]

[[tool.importlinter.contracts]]
name = "inner"
type = "layers"
containers = ["pkg.app"]
layers = ["top", "bottom"]

[[tool.importlinter.contracts]]
name = "not layers"
type = "acyclic_siblings"
ancestors = ["pkg"]
"""


def test_the_package_has_no_cycle_and_no_edge_against_the_layers() -> None:
    graph, rows = package_graph()
    assert nx.is_directed_acyclic_graph(graph)
    assert violations(graph, rows) == []
    # the rows are pyproject's: experiments/ expanded into its roles, above the other layers
    named = [m for row in rows for m in row.modules]
    assert named.index("infscale.experiments.bench") < named.index("infscale.experiments.stats")
    assert named.index("infscale.experiments.stats") < named.index("infscale.policies")
    assert "infscale.experiments" not in named
    # every edge's count is grimp's own count of the module pairs between the two folders
    imports = grimp.build_graph("infscale", cache_dir=None).find_matching_direct_imports(
        "infscale.search.** -> infscale.budgets.**"
    )
    assert graph.edges["infscale.search", "infscale.budgets"]["imports"] == len(imports) > 0


def test_rows_expand_a_container_into_its_own_layers(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(CONTRACTS)
    assert layer_rows(pyproject) == [
        Row(("pkg.app.top",)),
        Row(("pkg.app.bottom",)),
        Row(("pkg.left", "pkg.right")),
        Row(("pkg.low", "pkg.lower"), independent=False),
    ]


def test_upward_edges_independent_siblings_and_cycles_are_reported(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(CONTRACTS)
    rows = layer_rows(pyproject)
    graph = nx.DiGraph()
    graph.add_edge("pkg.app.top", "pkg.low", imports=3)  # down: allowed
    graph.add_edge("pkg.low", "pkg.lower", imports=1)  # siblings joined by `:`: allowed
    assert violations(graph, rows) == []
    graph.add_edge("pkg.left", "pkg.right", imports=2)  # siblings joined by `|`
    graph.add_edge("pkg.lower", "pkg.app.bottom", imports=4)  # up
    assert violations(graph, rows) == [
        "upward: pkg.left (row 2) imports pkg.right (row 2), 2 imports",
        "upward: pkg.lower (row 3) imports pkg.app.bottom (row 1), 4 imports",
    ]
    graph.add_edge("pkg.app.bottom", "pkg.app.top", imports=1)  # closes top -> low -> lower -> bottom -> top
    found = violations(graph, rows)
    cycles = [line.removeprefix("cycle: ").split(" -> ") for line in found if line.startswith("cycle: ")]
    assert len(cycles) == 1 and len(cycles[0]) == 5 and cycles[0][0] == cycles[0][-1]
    assert set(cycles[0]) == {"pkg.app.top", "pkg.low", "pkg.lower", "pkg.app.bottom"}
    assert "upward: pkg.app.bottom (row 1) imports pkg.app.top (row 0), 1 imports" in found


def test_collapse_counts_module_pairs_across_groups_and_drops_the_rest() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.a.x", "pkg.a.y", "pkg.b", "pkg.b.z", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a.x", imported="pkg.b.z")
    graph.add_import(importer="pkg.a.y", imported="pkg.b.z")
    graph.add_import(importer="pkg.a.y", imported="pkg.b")
    graph.add_import(importer="pkg.a.x", imported="pkg.a.y")  # inside a: no edge
    graph.add_import(importer="pkg", imported="pkg.a")  # from no group: dropped
    collapsed = collapse(graph, ["pkg.a", "pkg.b", "pkg.c"])
    assert sorted(collapsed.nodes) == ["pkg.a", "pkg.b", "pkg.c"]
    assert dict(collapsed.edges) == {("pkg.a", "pkg.b"): {"imports": 3}}
