"""`make mutation`: mutmut over budgets/, search/ and rewards/eval/ with a fast test selection.

mutmut imports the mutated copy by the module name its file path spells (mutants/a/b.py is
`a.b`), but the layer folders here install under other names (budgets/ is
`infscale.budgets`). So this script stages the package as it is imported, `.mutation/
infscale/<layer>/`, with the tests and a pyproject holding mutmut's and pytest's settings,
and runs mutmut there:

    python -m tests.mutations.mutmut_run                    # budgets, search, rewards/eval
    python -m tests.mutations.mutmut_run budgets            # one layer (or search, rewards/eval)
    python -m tests.mutations.mutmut_run --results          # the last run's score and survivors
    python -m tests.mutations.mutmut_run search --only 'infscale.search.engine*'   # some mutants

The score, per module and in all, is killed / (all mutants - equivalent - not run yet): a
mutant listed in tests/mutations/equivalent.txt (each with the reason no input can tell it
from the original) is left out; one not run yet is reported as such, never as killed.

Nothing in the repository is modified; `.mutation/` is git-ignored and reused (mutmut keeps
its results there, so a second run only tests what changed).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STAGE = REPO / ".mutation"
LAYERS = ("budgets", "tasks", "search", "policies", "rewards", "experiments", "conf")
TARGETS = ("budgets", "search", "rewards/eval")
EQUIVALENT = Path(__file__).with_name("equivalent.txt")
KNOWN = {"killed", "survived", "no tests", "not checked", "equivalent"}

# Fast tests that exercise each target (mutmut runs, per mutant, only those that reach it).
TESTS = {
    "budgets": [
        "tests/test_flops_by_hand.py",
        "tests/test_model_spec.py",
        "tests/test_budgets.py",
        "tests/test_budget_rules.py",
        "tests/test_budget_tightness.py",
        "tests/test_ledger_recount.py",
        "tests/test_engine_scheduling.py",  # the data-set pool (budgets/pool.py) through the engine
        "tests/test_allocators.py",
    ],
    # Only tests that run in-process and fast: a surviving mutant runs every test that reaches
    # its function, and the engine's functions are reached by nearly all of them. The parity
    # tests (hundreds of seeded searches), the allocators' hypothesis runs and the CLI
    # subprocesses (which never import the mutated copy) are left to `make test-all`.
    "search": [
        "tests/test_engine_scheduling.py",
        "tests/test_engine_rewards.py",
        "tests/test_flops_by_hand.py",
        "tests/test_budget_tightness.py",
        "tests/test_ledger_recount.py",
        "tests/test_ledger.py",
        "tests/test_strategy_rebase_mcts.py",
        "tests/test_strategy_dvts_choice.py",
        "tests/test_strategy_greedy_bestofn.py",
        "tests/test_strategy_beam_dvts.py",
        "tests/test_selection_by_hand.py",
        "tests/test_rebase_balance.py",
        "tests/test_sweeps_adaptive.py",
        "tests/test_bad_input.py",
        "tests/test_vllm_engine_args.py",
        "tests/test_allocators.py",
        "tests/test_allocation_journal.py",
        "tests/test_cache.py",
    ],
    "rewards/eval": ["tests/test_prm_eval.py"],
}

# Left out of the mutation runs for their time alone (minutes each on the shared 2-core
# machine, and a surviving mutant runs every test reaching its function); `make test-all` runs them.
# (tests/test_engine_scheduling.py checks the best-of-N case on a few fixed caps instead.)
DESELECT = (
    "tests/test_budget_tightness.py::test_a_binding_cap_is_spent_to_within_one_worst_case_sample",
    "tests/test_budget_tightness.py::test_best_of_n_takes_exactly_the_samples_that_fit",
)
# The same for the allocators' two hypothesis runs of whole allocated searches (10-18 s each,
# reached by every engine function). Deselected through pytest's addopts rather than mutmut's
# own arguments: changing those resets every verdict mutmut has stored, these do not. The
# allocators' behaviour tests stay (tests/test_allocators.py, tests/test_allocation_journal.py).
# Their fixed cases in the default tier (a few per strategy or kill point) stay out the same way.
SLOW_FOR_MUTANTS = (
    "tests/test_allocators.py::test_engine_never_crosses_the_pool_with_any_strategy",
    "tests/test_allocators.py::test_pool_never_overdrawn_through_a_kill",
    "tests/test_allocators.py::test_engine_never_crosses_a_pool_of_a_few_problems_with_any_strategy",
    "tests/test_allocators.py::test_pool_never_overdrawn_through_a_kill_at_each_kind_of_kill_point",
    "tests/test_budget_tightness.py::test_a_binding_cap_at_half_the_free_run_is_spent_to_within_one_worst_case_sample",
)

PYPROJECT = """\
[tool.mutmut]
source_paths = {sources}
also_copy = {copies}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:randomly", "-m", "not slow and not train and not vllm", {deselect}]
pytest_add_cli_args_test_selection = {tests}
use_git_change_detection = false
# a mutant that loops forever otherwise runs (time of every test reaching it) x 30 CPU seconds
timeout_multiplier = 2.0

[tool.pytest.ini_options]
testpaths = ["tests"]
markers = {markers}
# a mutant that makes a test hang fails it after this many seconds (pytest-timeout), instead
# of running out mutmut's whole-mutant timeout (the budget property test takes over 90 s under stats tracing on a busy machine)
timeout = 300
addopts = [{slow}]
"""


def stage(targets: list[str], root: Path = STAGE) -> None:
    lock = REPO / ".mutation-audit.lock"
    if lock.exists():
        raise SystemExit(f"`make mutation-audit` is mutating {lock.read_text()} in place: run this after it")
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
    # "not train" in mutmut's -m stays although the marker is gone: changing it resets every verdict
    markers = json.dumps(["slow: slow", "vllm: vllm", "data: data"])
    deselect = ", ".join(f'"--deselect", "{test}"' for test in DESELECT)
    text = PYPROJECT.format(
        sources=json.dumps(sources),
        copies=json.dumps(copies),
        tests=json.dumps(tests),
        markers=markers,
        deselect=deselect,
        slow=", ".join(f'"--deselect={test}"' for test in SLOW_FOR_MUTANTS),
    )
    (root / "pyproject.toml").write_text(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", choices=[[], *TARGETS], default=[])
    parser.add_argument("--results", action="store_true", help="print the last run's results only")
    parser.add_argument("--max-children", type=int, default=1, help="mutants tested in parallel")
    parser.add_argument("--stage", type=Path, default=STAGE, help="staging folder (one per concurrent run)")
    parser.add_argument("--only", nargs="*", default=[], help="mutant name patterns (fnmatch), e.g. '*.selection.*'")
    parser.add_argument(
        "--open",
        action="store_true",
        help="with --only: run just the matching mutants not killed yet (survived or not run), e.g. after new tests",
    )
    parser.add_argument(
        "--unrun",
        action="store_true",
        help="with --open: leave out the survivors too (only mutants no test has run yet: not checked, no tests)",
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="with --open: only the mutants that survived or that no test reached (not those never run)",
    )
    args = parser.parse_args(argv)
    script = Path(sys.executable).parent / "mutmut"
    mutmut = [str(script)] if script.exists() else [sys.executable, "-m", "mutmut"]
    if not args.results:
        names = args.only
        if args.open:  # mutmut re-runs every mutant named; name only those still open
            before = subprocess.run(
                [*mutmut, "results", "--all", "true"], cwd=args.stage, capture_output=True, text=True
            )
            names = [
                name
                for name, verdict in parse_results(before.stdout).items()
                if verdict not in ("killed", "timeout", *(("survived",) if args.unrun else ()))
                and not (args.survivors and verdict == "not checked")
                and any(fnmatch.fnmatch(name, p) for p in args.only or ["*"])
            ]
            print(f"{len(names)} open mutants", flush=True)
            if not names:
                return 0
        stage(list(args.targets or TARGETS), args.stage)
        command = [*mutmut, "run", "--max-children", str(args.max_children), *names]
        # property tests on the long profile (tests/conftest.py): at least the counts of the stored verdicts
        env = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
        subprocess.run(command, cwd=args.stage, check=False, env=env)
    done = subprocess.run([*mutmut, "results", "--all", "true"], cwd=args.stage, capture_output=True, text=True)
    print(done.stdout)
    print(score(parse_results(done.stdout), read_equivalent()))
    return 0


def parse_results(text: str) -> dict[str, str]:
    """mutant name -> verdict, from `mutmut results --all true`."""
    return {
        name.strip(): verdict.strip()
        for name, _, verdict in (line.rpartition(":") for line in text.splitlines())
        if name.strip()
    }


def read_equivalent(path: Path = EQUIVALENT) -> set[str]:
    """The mutants listed as equivalent (one name a line, `#` starts a comment)."""
    if not path.exists():
        return set()
    return {line.split("#")[0].strip() for line in path.read_text().splitlines()} - {""}


def score(verdicts: dict[str, str], equivalent: set[str]) -> str:
    """Per module and in all: killed (a timeout counts as killed), survived, no test reaches it,
    not run yet, equivalent (listed in tests/mutations/equivalent.txt, excluded from the score)."""
    rows: dict[str, dict[str, int]] = {}
    for name, verdict in verdicts.items():
        module = name.rsplit(".", 1)[0]
        kind = (
            "equivalent"
            if name in equivalent and verdict == "survived"
            else "killed"
            if verdict in ("killed", "timeout")
            else verdict
        )
        for key in (module, "all"):
            row = rows.setdefault(key, {})
            row[kind] = row.get(kind, 0) + 1
    lines = [f"{'module':45s} {'killed':>7s} {'surv.':>6s} {'no test':>7s} {'not run':>7s} {'equiv.':>6s}  score"]
    for module, row in sorted(rows.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        counted = sum(n for kind, n in row.items() if kind not in ("equivalent", "not checked"))
        killed = row.get("killed", 0)
        lines.append(
            f"{module:45s} {killed:7d} {row.get('survived', 0):6d} {row.get('no tests', 0):7d} "
            f"{row.get('not checked', 0):7d} {row.get('equivalent', 0):6d}  "
            f"{killed}/{counted} = {100 * killed / max(counted, 1):.1f}%"
            + (
                f"  (other: {', '.join(f'{k} {n}' for k, n in row.items() if k not in KNOWN)})"
                if set(row) - KNOWN
                else ""
            )
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
