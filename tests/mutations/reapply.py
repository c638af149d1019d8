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

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


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
        "key=lambda x: (-x.score, x.id)",
        "key=lambda x: (x.score, x.id)",
        ("tests/test_strategy_rebase_mcts.py",),
        "issue 12 changes the tie order: re-target the key after the merge",
    ),
    Mutation(
        "beam-finished-child-takes-no-beam",
        "search/strategies/beam.py",
        "keep = beams - len(finished)",
        "keep = beams",
        ("tests/test_parity_beam.py", "tests/test_strategy_quality.py"),
        "issue 12 rewrites beam search as search-and-learn's; re-target to its completed-beam bookkeeping",
    ),
    Mutation(
        "dvts-keeps-the-worst-child",
        "search/strategies/dvts.py",
        "if group and not self.ranked(group)[0].terminal:\n                    heads.append(self.ranked(group)[0])",
        "if group and not self.ranked(group)[-1].terminal:\n                    heads.append(self.ranked(group)[-1])",
        ("tests/test_strategy_dvts_choice.py", "tests/test_parity_dvts.py"),
        "issue 12 rewrites DVTS as search-and-learn's; re-target to its best-child choice",
    ),
    Mutation(
        "mcts-uct-prefers-low-values",
        "search/strategies/mcts.py",
        "q = totals[child] / visits[child]",
        "q = -totals[child] / visits[child]",
        ("tests/test_strategy_rebase_mcts.py",),
        "issue 12 rewrites MCTS as llm-reasoners'; re-target to its UCT",
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


def run_one(mutation: Mutation) -> str:
    path = REPO / mutation.path
    original = path.read_bytes()
    source = original.decode()
    if source.count(mutation.old) != 1:
        return "STALE"
    tests = [t for t in mutation.tests if (REPO / t).exists()]
    if not tests:
        return "NO TESTS"
    try:
        path.write_text(source.replace(mutation.old, mutation.new))
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not vllm", *tests],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
    finally:
        path.write_bytes(original)
    return "killed" if done.returncode == 1 else "SURVIVED" if done.returncode == 0 else f"ERROR {done.returncode}"


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or any(a in m.name for a in argv)]
    failures = 0
    for mutation in chosen:
        started = time.perf_counter()
        verdict = run_one(mutation)
        failures += verdict != "killed"
        note = f"  ({mutation.note})" if mutation.note and verdict != "killed" else ""
        print(f"{verdict:10s} {mutation.name:45s} {time.perf_counter() - started:6.1f} s{note}", flush=True)
    print(f"{len(chosen) - failures}/{len(chosen)} killed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
