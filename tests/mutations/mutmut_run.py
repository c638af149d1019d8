"""`make mutation`: mutmut over the targets in pyproject.toml's `[tool.mutmut]`, scored per module.

mutmut runs on the checkout itself. Its `source_paths` (infscale/budgets, infscale/search,
infscale/rewards/eval) go through infscale/'s links, so it writes the mutated copies as real
files under `mutants/infscale/...` and names each mutant by that path, which is the module's
import name (`infscale.budgets.budget.x_...`); `also_copy` puts the rest of the package
beside them, and mutmut puts `mutants/` first on sys.path, ahead of the editable install's
finder. Per mutant, mutmut runs only the tests of the selection that reach its function, so
one selection serves every target. This script adds what mutmut lacks:

    python -m tests.mutations.mutmut_run                     # every target
    python -m tests.mutations.mutmut_run budgets             # one target (budgets, search, rewards/eval)
    python -m tests.mutations.mutmut_run --only 'infscale.search.engine*'   # some mutants
    python -m tests.mutations.mutmut_run --open --only 'infscale.search.engine*'
                                                             # only those not killed yet
    python -m tests.mutations.mutmut_run --results           # the score, per module

The score, per module and in all, is killed / (all mutants - equivalent - not run yet): a
mutant listed in tests/mutations/equivalent.txt (each with the reason no input can tell it
from the original) is left out; one not run yet is reported as such, never as killed.
mutmut keeps its verdicts in `mutants/` (git-ignored), so a stopped run goes on where it was.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.mutations.reapply import LOCK

REPO = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).with_name("equivalent.txt")
KNOWN = {"killed", "survived", "no tests", "not checked", "equivalent"}
PACKAGE = "infscale/"


def targets(pyproject: Path = REPO / "pyproject.toml") -> dict[str, str]:
    """Each target of `[tool.mutmut] source_paths` (`search`, `rewards/eval`) -> its mutants' name pattern."""
    paths = tomllib.loads(pyproject.read_text())["tool"]["mutmut"]["source_paths"]
    return {p.removeprefix(PACKAGE): p.replace("/", ".") + ".*" for p in paths}


def mutmut(*args: str) -> list[str]:
    script = Path(sys.executable).parent / "mutmut"
    return [str(script) if script.exists() else "mutmut", *args]


def verdicts() -> dict[str, str]:
    done = subprocess.run(mutmut("results", "--all", "true"), cwd=REPO, capture_output=True, text=True, check=True)
    return parse_results(done.stdout)


def main(argv: list[str]) -> int:
    known = targets()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", choices=[[], *known], default=[])
    parser.add_argument("--results", action="store_true", help="print the last run's survivors and score only")
    parser.add_argument("--max-children", type=int, default=1, help="mutants tested in parallel")
    parser.add_argument("--only", nargs="*", default=[], help="mutant name patterns (fnmatch), e.g. '*.selection.*'")
    parser.add_argument(
        "--open", action="store_true", help="run just the chosen mutants not killed yet (survived, no tests, not run)"
    )
    args = parser.parse_args(argv)
    patterns = args.only or [known[t] for t in args.targets]
    if not args.results:
        if LOCK.exists():
            raise SystemExit(f"`make mutation-audit` is mutating {LOCK.read_text()} in place: run this after it")
        names = patterns
        if args.open:  # mutmut re-runs every mutant named; name only those still open
            names = [n for n, v in chosen(verdicts(), patterns).items() if v not in ("killed", "timeout")]
            print(f"{len(names)} open mutants", flush=True)
            if not names:
                return 0
        # property tests on the long profile (tests/conftest.py): at least the counts of the stored verdicts
        env = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
        subprocess.run(mutmut("run", "--max-children", str(args.max_children), *names), cwd=REPO, check=False, env=env)
    results = chosen(verdicts(), patterns)
    equivalent = read_equivalent()
    for name, verdict in results.items():
        if verdict in ("survived", "no tests") and name not in equivalent:
            print(f"    {name}: {verdict}")
    print(score(results, equivalent))
    return 0


def chosen(verdicts: dict[str, str], patterns: list[str]) -> dict[str, str]:
    """The verdicts of the mutants matching any pattern (all of them without one)."""
    return {n: v for n, v in verdicts.items() if not patterns or any(fnmatch.fnmatch(n, p) for p in patterns)}


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
