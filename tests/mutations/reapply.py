"""Re-apply the mutations an outside audit of the test suite found surviving (issue 18),
one at a time, and run the fast tests meant to catch each: every one must now be killed.

    python -m tests.mutations.reapply            # all of them
    python -m tests.mutations.reapply prefill    # those whose name contains "prefill"

Each mutation is an exact text replacement in one source file, applied in place and always
restored (the file's original bytes are written back, whatever happens). A mutation whose
target text is gone (the code was rewritten) is reported as STALE: re-target it. Exit status
0 only if every applicable mutation was killed.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Present while a source file is mutated in place: `make mutation` refuses to start meanwhile
# (mutmut would copy the mutated file into mutants/).
LOCK = REPO / ".mutation-audit.lock"


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    note: str = ""


MUTATIONS = (
    Mutation(
        "rebase-finished-nodes-keep-the-width",
        "search/strategies/rebase.py",
        "width -= len(done)",
        "width -= 0",
        ("tests/test_strategy_rebase_mcts.py",),
    ),
    Mutation(
        "rebase-sorts-worst-first",
        "search/strategies/rebase.py",
        "return sorted(nodes, key=lambda x: x.score)[::-1]",
        "return sorted(nodes, key=lambda x: x.score)",
        ("tests/test_strategy_rebase_mcts.py", "tests/test_parity_rebase.py"),
    ),
    # The audit's beam mutation ("a finished child no longer takes a beam") removed the old
    # beam's rule `keep = beams - len(finished)`. Beam search is now search-and-learn's: a copy
    # that ends goes to the completed list and all N/M survivor places go to unfinished copies.
    # The same line, the number of survivors, now mutates the other way: finished children
    # take survivor places (at least one beam is kept, so the search does not just crash).
    Mutation(
        "beam-finished-child-takes-a-survivor-place",
        "search/strategies/beam.py",
        "survivors = set(ranked[-keep:])",
        "survivors = set(ranked[-max(keep - len(ended), 1) :])",
        ("tests/test_strategy_beam_dvts.py", "tests/test_parity_beam.py"),
    ),
    Mutation(
        "dvts-keeps-the-worst-child",
        "search/strategies/dvts.py",
        "best = max(group, key=lambda x: (self.value(x), -group.index(x)))",
        "best = min(group, key=lambda x: (self.value(x), -group.index(x)))",
        ("tests/test_strategy_dvts_choice.py", "tests/test_strategy_beam_dvts.py", "tests/test_parity_dvts.py"),
    ),
    Mutation(
        "mcts-uct-prefers-low-values",
        "search/strategies/mcts.py",
        "q = sum(returns) / len(returns) if node in s.visited else self._reward(node)",
        "q = -sum(returns) / len(returns) if node in s.visited else -self._reward(node)",
        ("tests/test_strategy_rebase_mcts.py", "tests/test_parity_mcts.py"),
    ),
    Mutation(
        "prefill-ignores-the-prefix-cache",
        "budgets/ledger.py",
        "return spec.flops_span(cached, computed)",
        "return spec.flops_span(0, cached + computed)",
        ("tests/test_flops_by_hand.py", "tests/test_ledger_recount.py"),
    ),
    Mutation(
        "attention-term-halved",
        "budgets/model_spec.py",
        "2.0 * self.num_hidden_layers * self.d_attn * positions",
        "1.0 * self.num_hidden_layers * self.d_attn * positions",
        ("tests/test_flops_by_hand.py",),
    ),
    Mutation(
        "decode-context-zero",
        "search/engine.py",
        "run.ledger.charge_sample(context, sample.tokens)",
        "run.ledger.charge_sample(0, sample.tokens)",
        ("tests/test_ledger_recount.py",),
    ),
    Mutation(
        "budget-refuses-half-of-what-fits",
        "budgets/budget.py",
        "(self.max_tokens - ledger.generated) // max(tokens_each, 1)",
        "(self.max_tokens - ledger.generated) // max(2 * tokens_each, 1)",
        ("tests/test_budget_tightness.py",),
    ),
    Mutation(
        "budget-refuses-half-of-the-flops-that-fit",
        "budgets/budget.py",
        "math.floor(room / flops_each)",
        "math.floor(room / flops_each / 2)",
        ("tests/test_budget_tightness.py",),
    ),
)


def run_one(mutation: Mutation) -> tuple[str, str]:
    """(verdict, the first failing test) of one mutation."""
    path = REPO / mutation.path
    original = path.read_bytes()
    source = original.decode()
    if source.count(mutation.old) != 1:
        return "STALE", ""
    tests = [t for t in mutation.tests if (REPO / t).exists()]
    if not tests:
        return "NO TESTS", ""
    try:
        LOCK.write_text(mutation.path)
        path.write_text(source.replace(mutation.old, mutation.new))
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not vllm", *tests],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
    finally:
        path.write_bytes(original)
        LOCK.unlink(missing_ok=True)
    failed = re.search(r"^FAILED (\S+)", done.stdout, re.MULTILINE)
    verdict = "killed" if done.returncode == 1 else "SURVIVED" if done.returncode == 0 else f"ERROR {done.returncode}"
    return verdict, failed.group(1) if failed else ""


def main(argv: list[str]) -> int:
    # a plain `kill` must still restore the file being mutated (the `finally` above)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    chosen = [m for m in MUTATIONS if not argv or any(a in m.name for a in argv)]
    failures = 0
    for mutation in chosen:
        started = time.perf_counter()
        verdict, test = run_one(mutation)
        failures += verdict != "killed"
        note = f"  ({mutation.note})" if mutation.note and verdict != "killed" else ""
        seconds = time.perf_counter() - started
        print(f"{verdict:10s} {mutation.name:45s} {seconds:6.1f} s  {test}{note}", flush=True)
    print(f"{len(chosen) - failures}/{len(chosen)} killed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
