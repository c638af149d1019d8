"""The allocated run's journal (`allocation.jsonl`) and the incremental difficulty estimate:
both are there to make scheduling cheap (issue 17: <= 5% of wall time), and neither may change
a decision or lose a sample."""

from __future__ import annotations

import functools
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infscale.experiments.app import allocate
from infscale.experiments.app.build import build_task
from infscale.experiments.app.run import run
from infscale.search.allocators.difficulty import AnswerGroups, estimate
from infscale.search.node import Tree
from infscale.search.selection import aggregate
from infscale.tasks.base import Problem, TextTask
from tests.conftest import make_config, read_results

PROBE = ("strategy=best_of_n", "task.n=40", "n_problems=40", "allocator=probe_then_allocate", "budget.total_flops=3e15")


def test_journal_writes_only_what_changed_and_replays_every_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(allocate, "SAVE_SPACING", 0)  # a line per wave
    summary = run(make_config(*PROBE), tmp_path)
    header, entries = allocate.read_journal(tmp_path / allocate.STATE_FILE)
    records = read_results(tmp_path)
    assert header["problems"] == [r["problem_id"] for r in records]
    assert len(entries) == summary["allocation"]["waves"] + 1  # a line per wave, then the final one
    changed = [len(e["problems"]) for e in entries]
    assert changed[0] == 40 and min(changed[1:-1]) < 40  # problems left alone are not written again
    _, states = allocate.read_states(tmp_path / allocate.STATE_FILE)
    for record in records:
        rows = states[record["problem_id"]]["samples"]
        assert len(rows) == record["samples"]
        assert [row[4] for row in rows] == [c["answer"] for c in record["candidates"]]
        scores = [aggregate(row[allocate.SCORES], "last") for row in rows]
        assert scores == [c["score"] for c in record["candidates"]]  # packed float64: exact


def test_spaced_saves_resume_to_the_same_records(tmp_path, monkeypatch):
    """With saves spaced out (fewer lines than waves), a run whose journal lost its last lines
    resumes to the same records: the waves after the last line are drawn again identically."""
    clean = run(make_config(*PROBE), tmp_path / "clean")
    monkeypatch.setattr(allocate, "SAVE_SPACING", 0)
    run(make_config(*PROBE), tmp_path / "killed")
    path = tmp_path / "killed" / allocate.STATE_FILE
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3]) + lines[3][:50])  # two waves kept, the third torn
    (tmp_path / "killed" / "summary.json").unlink()
    (tmp_path / "killed" / "results.jsonl").unlink()
    resumed = run(make_config(*PROBE), tmp_path / "killed")
    strip = lambda rs: [{k: v for k, v in r.items() if k != "wall_s"} for r in rs]  # noqa: E731
    assert strip(read_results(tmp_path / "killed")) == strip(read_results(tmp_path / "clean"))
    assert resumed["pool"] == clean["pool"]


class _LooseTask(TextTask):
    """Answers equivalent up to surrounding spaces, while the key keeps them: grouping must
    compare a new key with the groups so far (the pairwise scan, as with math-verify)."""

    def answer_key(self, answer: str) -> str:
        return answer

    def equivalent(self, a: str, b: str) -> bool:
        return a.strip() == b.strip()


@functools.cache
def _task(kind: str):
    return build_task(make_config("task.n=1")) if kind == "keyed" else _LooseTask()


@settings()
@given(
    answers=st.lists(st.sampled_from(["1", "2", " 2", "3", "3 ", None]), min_size=1, max_size=40),
    selector=st.sampled_from(["majority", "weighted"]),
    aggregation=st.sampled_from(["min", "last", "mean"]),
    cut=st.integers(min_value=0, max_value=40),
    seed=st.integers(min_value=0, max_value=10**6),
    kind=st.sampled_from(["keyed", "scanned"]),
)
def test_incremental_estimate_equals_the_estimate_from_scratch(answers, selector, aggregation, cut, seed, kind):
    """Estimated as samples arrive (in two batches), the numbers equal those computed from all
    samples at once, to the last bit, whether the task groups answers by key or by its grader."""
    task = _task(kind)
    rng = random.Random(seed)
    tree = Tree(Problem(id="p", prompt="Q", reference="1"))
    nodes = [
        tree.add_child(tree.root, text="", answer=a, step_scores=[rng.random() for _ in range(rng.randint(1, 4))])
        for a in answers
    ]
    groups = AnswerGroups(task)
    first = nodes[: min(cut, len(nodes))]
    if first:
        assert estimate(first, selector, aggregation, task, 1.0, groups) == estimate(
            first, selector, aggregation, task, 1.0
        )
    assert estimate(nodes, selector, aggregation, task, 1.0, groups) == estimate(
        nodes, selector, aggregation, task, 1.0
    )


def test_journal_of_other_problems_is_refused(tmp_path):
    run(make_config(*PROBE), tmp_path)
    (tmp_path / "summary.json").unlink()
    (tmp_path / "results.jsonl").unlink()
    with pytest.raises(ValueError, match="holds other problems than this configuration's"):
        run(make_config(*PROBE[:-1], "budget.total_flops=3e15", "n_problems=39"), tmp_path)
    assert len(json.loads((tmp_path / allocate.STATE_FILE).read_text().splitlines()[0])["problems"]) == 40


def test_a_problem_state_survives_the_journal_field_for_field():
    """`changes()` -> packed scores -> orjson -> `read_states` form -> `from_dict`: every field
    a resumed run reads comes back as it was."""
    import orjson

    from infscale.budgets.ledger import Ledger
    from infscale.search.allocators.state import ProblemState
    from infscale.tasks.base import Problem

    problem = Problem(id="p", prompt="Q", reference="7")
    state = ProblemState.fresh(problem, Ledger(None, None))
    first = state.tree.add_child(
        state.tree.root,
        text="a=7",
        tokens=3,
        context=5,
        finish="end",
        answer="7",
        step_scores=[0.25, 0.5],
        reward_tokens=4,
    )
    first.prefills = [(0, 5)]
    second = state.tree.add_child(state.tree.root, text="b", tokens=2, context=5, finish="length")
    second.prefills = [(5, 0), (3, 2)]
    for node in (first, second):
        node.terminal = True
    state.tree.root.expansions = 2
    state.ledger.samples, state.ledger.generated, state.ledger.flops_decode = 2, 5, 123.5
    state.grants, state.wall_s, state.estimate = [2], 1.25, {"samples": 2, "agreement": 0.5}
    state.close("settled")
    entry = state.changes()
    packed = allocate.pack_scores([entry])
    entry = orjson.loads(orjson.dumps(entry))
    allocate.unpack_scores([entry], packed)
    data = {**{k: v for k, v in entry.items() if k != "new"}, "samples": entry["new"]}
    back = ProblemState.from_dict(problem, data, Ledger(None, None))
    assert (back.open, back.reason, back.grants, back.wall_s, back.estimate) == (
        False,
        "settled",
        [2],
        1.25,
        state.estimate,
    )
    assert back.tree.root.expansions == 2
    assert (back.ledger.samples, back.ledger.generated, back.ledger.flops_decode) == (2, 5, 123.5)
    fields = ("text", "tokens", "context", "finish", "answer", "step_scores", "reward_tokens", "prefills", "terminal")
    for old, new in zip(state.tree.root.children, back.tree.root.children, strict=True):
        assert [getattr(new, f) for f in fields] == [getattr(old, f) for f in fields]
    assert back.changes() is None  # what was loaded counts as saved


def test_flip_probability_by_hand():
    from infscale.search.allocators.difficulty import flip_probability

    # top 3, second 1 of 4, prior 1: shares (3+1)/7 and (1+1)/7, variance (6/7 - 4/49) / 8,
    # z = (2/7) / sqrt(variance) = 0.91766; P(flip) = Phi(-z) (scipy.stats.norm.sf)
    assert flip_probability(3, 1, 4, 1.0) == pytest.approx(0.1793976789, abs=1e-9)
    assert flip_probability(2, 2, 4, 1.0) == pytest.approx(0.5, abs=1e-12)  # a tie: a coin
    assert flip_probability(0, 0, 0, 0.0) == 0.0  # no weight anywhere: no variance, no flip
    assert flip_probability(40, 0, 40, 1.0) < flip_probability(4, 0, 4, 1.0) < 0.05  # more agreement, surer


def _nodes(rows):
    tree = Tree(Problem(id="p", prompt="Q", reference="A"))
    return [tree.add_child(tree.root, text="", answer=a, step_scores=s) for a, s in rows]


def test_difficulty_estimate_by_hand():
    task = _task("keyed")
    rows = [("A", [0.1, 0.9]), ("A", [0.5]), ("B", [0.2]), (None, [0.4])]
    majority = estimate(_nodes(rows), "majority", "last", task, 1.0)
    # groups A: 2, B: 1 of 4 samples (the unanswered one counts in n, in no group); flip: shares
    # 3/7 and 2/7, z = (1/7) / sqrt((5/7 - 1/49) / 8) = 0.48507, Phi(-z) = 0.313813
    assert majority == {"samples": 4, "agreement": 0.5, "flip": 0.313813, "difficulty": 0.5, "mean_score": None}
    weighted = estimate(_nodes(rows), "weighted", "last", task, 1.0)
    # last scores: A 0.9 + 0.5 = 1.4, B 0.2, all four 2.0: rescaled to 4 samples A 2.8, B 0.4;
    # flip: shares 3.8/7 and 1.4/7, Phi(-z) = 0.110035
    assert weighted == {"samples": 4, "agreement": 0.7, "flip": 0.110035, "difficulty": 0.3, "mean_score": 0.5}
    unscored = estimate(_nodes([("A", [0.9]), ("B", None), ("B", [0.1])]), "weighted", "last", task, 1.0)
    assert unscored["mean_score"] is None and unscored["agreement"] == pytest.approx(2 / 3, abs=1e-6)  # counted
    assert estimate([], "weighted", "last", task, 1.0) == {
        "samples": 0,
        "agreement": 0.0,
        "flip": 1.0,
        "difficulty": 1.0,
        "mean_score": None,
    }
    for selector in ("majority", "weighted"):  # the same numbers when estimated as samples arrive
        groups = AnswerGroups(task)
        nodes = _nodes(rows)
        estimate(nodes[:1], selector, "last", task, 1.0, groups)
        assert estimate(nodes, selector, "last", task, 1.0, groups) == estimate(nodes, selector, "last", task, 1.0)
