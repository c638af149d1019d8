"""`make mutation`'s settings and score (tests/mutations/mutmut_run.py, pyproject's [tool.mutmut])."""

from __future__ import annotations

import tomllib

from tests.mutations.mutmut_run import REPO, chosen, parse_results, score, targets

SETTINGS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]


def test_the_targets_are_package_folders_reached_through_infscales_links() -> None:
    assert targets() == {
        "budgets": "infscale.budgets.*",
        "search": "infscale.search.*",
        "rewards/eval": "infscale.rewards.eval.*",
    }
    for path in SETTINGS["source_paths"]:
        assert (REPO / path / "__init__.py").is_file(), path


def test_every_selected_and_deselected_test_file_exists() -> None:
    # pytest stops mutmut's first run on a missing file; a renamed test file must be renamed here too
    deselected = [
        a.split("=", 1)[1].split("::") for a in SETTINGS["pytest_add_cli_args"] if a.startswith("--deselect=")
    ]
    assert len(deselected) == 7
    files = [*SETTINGS["pytest_add_cli_args_test_selection"], *(path for path, _ in deselected)]
    assert [t for t in files if not (REPO / t).is_file()] == []
    assert [name for path, name in deselected if f"def {name}(" not in (REPO / path).read_text()] == []


def test_the_score_leaves_out_equivalent_and_unrun_mutants_and_counts_timeouts_as_killed() -> None:
    verdicts = parse_results(
        "    infscale.budgets.budget.x_a__mutmut_1: killed\n"
        "    infscale.budgets.budget.x_a__mutmut_2: timeout\n"
        "    infscale.budgets.budget.x_a__mutmut_3: survived\n"
        "    infscale.budgets.budget.x_a__mutmut_4: survived\n"
        "    infscale.budgets.budget.x_a__mutmut_5: not checked\n"
        "    infscale.search.node.x_b__mutmut_1: no tests\n"
    )
    assert len(verdicts) == 6
    lines = score(verdicts, {"infscale.budgets.budget.x_a__mutmut_4"}).splitlines()
    assert lines[1].split() == ["infscale.budgets.budget", "2", "1", "0", "1", "1", "2/3", "=", "66.7%"]
    assert lines[2].split() == ["infscale.search.node", "0", "0", "1", "0", "0", "0/1", "=", "0.0%"]
    assert lines[3].split() == ["all", "2", "1", "1", "1", "1", "2/4", "=", "50.0%"]
    assert list(chosen(verdicts, [targets()["search"]])) == ["infscale.search.node.x_b__mutmut_1"]
