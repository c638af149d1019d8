"""`make mutation`: mutmut over budgets/, search/ and rewards/eval/ with a fast test selection.

mutmut imports the mutated copy by the module name its file path spells (mutants/a/b.py is
`a.b`), but the layer folders here install under other names (budgets/ is
`infscale.budgets`). So this script stages the package as it is imported, `.mutation/
infscale/<layer>/`, with the tests and a pyproject holding mutmut's and pytest's settings,
and runs mutmut there:

    python -m tests.mutations.mutmut_run                    # budgets, search, rewards/eval
    python -m tests.mutations.mutmut_run budgets            # one layer (or search, rewards/eval)
    python -m tests.mutations.mutmut_run --results          # the last run's score and survivors

Nothing in the repository is modified; `.mutation/` is git-ignored and reused (mutmut keeps
its results there, so a second run only tests what changed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STAGE = REPO / ".mutation"
LAYERS = ("budgets", "tasks", "search", "policies", "rewards", "experiments", "conf")
TARGETS = ("budgets", "search", "rewards/eval")

# Fast tests that exercise each target (mutmut runs, per mutant, only those that reach it).
TESTS = {
    "budgets": [
        "tests/test_flops_by_hand.py",
        "tests/test_model_spec.py",
        "tests/test_budgets.py",
        "tests/test_budget_rules.py",
        "tests/test_budget_tightness.py",
        "tests/test_ledger_recount.py",
    ],
    "search": [
        "tests/test_flops_by_hand.py",
        "tests/test_budget_tightness.py",
        "tests/test_ledger_recount.py",
        "tests/test_strategy_rebase_mcts.py",
        "tests/test_strategy_dvts_choice.py",
        "tests/test_strategy_greedy_bestofn.py",
        "tests/test_selection_by_hand.py",
        "tests/test_sweeps_adaptive.py",
        "tests/test_ledger.py",
        "tests/test_rebase_balance.py",
        "tests/test_bad_input.py",
        "tests/test_budget_rules.py",
        "tests/test_strategy_beam_dvts.py",
        "tests/test_parity_beam.py",
        "tests/test_parity_dvts.py",
        "tests/test_parity_mcts.py",
        "tests/test_parity_rebase.py",
        "tests/test_cache.py",
        "tests/test_allocators.py",
        "tests/test_vllm_engine_args.py",
        "tests/test_search_mutants.py",
    ],
    "rewards/eval": ["tests/test_prm_eval.py"],
}

PYPROJECT = """\
[tool.mutmut]
source_paths = {sources}
also_copy = {copies}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:randomly", "-m", "not slow and not train and not vllm"]
pytest_add_cli_args_test_selection = {tests}
use_git_change_detection = false

[tool.pytest.ini_options]
testpaths = ["tests"]
markers = {markers}
"""


def stage(targets: list[str], root: Path = STAGE) -> None:
    package = root / "infscale"
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    shutil.copy2(REPO / "infscale" / "__init__.py", package / "__init__.py")
    for layer in LAYERS:
        shutil.copytree(REPO / layer, package / layer, ignore=shutil.ignore_patterns("__pycache__"))
    if (root / "tests").exists():
        shutil.rmtree(root / "tests")
    shutil.copytree(REPO / "tests", root / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    sources = [f"infscale/{t}" for t in targets]
    # everything of the package that is not mutated is copied beside the mutants as it is
    copies = ["infscale/__init__.py"] + [
        f"infscale/{layer}" for layer in LAYERS if not any(t.split("/")[0] == layer for t in targets)
    ]
    for target in targets:  # the rest of a partly mutated layer (rewards/ beside rewards/eval/)
        layer, _, below = target.partition("/")
        if below:
            copies += [
                f"infscale/{layer}/{p.name}" for p in (REPO / layer).iterdir() if p.name not in (below, "__pycache__")
            ]
    tests = sorted({t for target in targets for t in TESTS[target] if (REPO / t).exists()})
    markers = json.dumps(["slow: slow", "train: train", "vllm: vllm"])
    text = PYPROJECT.format(
        sources=json.dumps(sources), copies=json.dumps(copies), tests=json.dumps(tests), markers=markers
    )
    (root / "pyproject.toml").write_text(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", choices=[[], *TARGETS], default=[])
    parser.add_argument("--results", action="store_true", help="print the last run's results only")
    parser.add_argument("--max-children", type=int, default=1, help="mutants tested in parallel")
    parser.add_argument("--stage", type=Path, default=STAGE, help="staging folder (one per concurrent run)")
    parser.add_argument("--only", nargs="*", default=[], help="mutant name patterns (fnmatch), e.g. '*.selection.*'")
    args = parser.parse_args(argv)
    script = Path(sys.executable).parent / "mutmut"
    mutmut = [str(script)] if script.exists() else [sys.executable, "-m", "mutmut"]
    if not args.results:
        stage(list(args.targets or TARGETS), args.stage)
        command = [*mutmut, "run", "--max-children", str(args.max_children), *args.only]
        subprocess.run(command, cwd=args.stage, check=False)
    done = subprocess.run([*mutmut, "results", "--all", "true"], cwd=args.stage, capture_output=True, text=True)
    verdicts: dict[str, int] = {}
    for line in done.stdout.splitlines():
        if ":" in line:
            verdict = line.rsplit(":", 1)[1].strip()
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
    print(done.stdout)
    total = sum(verdicts.values())
    killed = verdicts.get("killed", 0) + verdicts.get("timeout", 0)
    print(f"{killed}/{total} killed ({100 * killed / max(total, 1):.1f}%); {verdicts}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
