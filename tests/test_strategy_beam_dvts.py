"""Beam search and DVTS on hand-written trees: survivors, completions, best children and
decisions worked out by hand from search-and-learn's rules (docs/strategies.md).

A `TableWorld` holds every step the policy may sample (by the text it continues and the
sample's ordinal, see tests/parity_world.py) and every PRM score; a draw the table does
not list fails the test, so the searches generate exactly the steps written here.
"""

from __future__ import annotations

import pytest

from tests.engine_helpers import strategy
from tests.parity_world import ScriptedTask, Step, World, scripted_engine
from tests.scripted_world import BlankFirstChild, Script, children_labels, run_scripted

PROMPT = "Problem 0:"


class TableWorld(World):
    """Steps and scores from tables keyed by solution text (the prompt left out)."""

    def __init__(self, steps: dict, scores: dict):
        super().__init__(seed=0)
        self.table, self.table_scores = steps, scores

    def step(self, text: str, ordinal: object) -> Step:
        return self.table[(text.removeprefix(PROMPT), ordinal)]

    def score(self, text: str) -> float:
        return self.table_scores[text.removeprefix(PROMPT)]


def step(text: str) -> Step:
    return Step(text + "\n", "step")


def end(text: str, answer: str | None) -> Step:
    return Step(text + (f" ans={answer}" if answer else " stop") + "\n", "end")


def run(world: World, name: str, **options):
    task = ScriptedTask(n=1)
    (outcome,) = scripted_engine(world, task).run(task.problems(), strategy(name, task, **options))
    return outcome


# --- beam search: N=4, M=2 (two survivors), three iterations ---------------------------
# iteration 0: a .9, b .2, c ends (B) .7, d .5      -> completed [c]; survivors a, d
# iteration 1: copies a, d, a, d -> a's two children aa .4, ab .6; d's: dd ends (A) .8, de .3
#              copy order aa, dd, ab, de            -> completed [c, dd]; survivors aa, ab
# iteration 2 (the last: to the end): copies aa, ab, aa, ab
#              aa -> r1 (A) .5, r2 (A) .95; ab -> r3 (B) .9, r4 (no answer) .1
#              copy order r1, r3, r2, r4            -> completed [c, dd, r1, r3, r2, r4]
# first N=4: c B .7, dd A .8, r1 A .5, r3 B .9 -> weighted A 1.3, B 1.6: B
# sort_completed: r2 A .95, r3 B .9, dd A .8, c B .7 -> A 1.75, B 1.6: A
BEAM_STEPS = {
    ("", 0): step("a"),
    ("", 1): step("b"),
    ("", 2): end("c", "B"),
    ("", 3): step("d"),
    ("a\n", 0): step("aa"),
    ("a\n", 1): step("ab"),
    ("d\n", 0): end("dd", "A"),
    ("d\n", 1): step("de"),
    ("a\naa\n", ("end", 0)): end("r1", "A"),
    ("a\naa\n", ("end", 1)): end("r2", "A"),
    ("a\nab\n", ("end", 0)): end("r3", "B"),
    ("a\nab\n", ("end", 1)): end("r4", None),
}
BEAM_SCORES = {
    "a\n": 0.9,
    "b\n": 0.2,
    "c ans=B\n": 0.7,
    "d\n": 0.5,
    "a\naa\n": 0.4,
    "a\nab\n": 0.6,
    "d\ndd ans=A\n": 0.8,
    "d\nde\n": 0.3,
    "a\naa\nr1 ans=A\n": 0.5,
    "a\naa\nr2 ans=A\n": 0.95,
    "a\nab\nr3 ans=B\n": 0.9,
    "a\nab\nr4 stop\n": 0.1,
}


def test_beam_keeps_n_over_m_survivors_and_collects_completions_in_copy_order():
    outcome = run(TableWorld(BEAM_STEPS, BEAM_SCORES), "beam", n=4, beam_width=2, max_depth=3)
    solutions = [c.solution for c in outcome.decision.candidates]
    assert solutions == ["c ans=B\n", "d\ndd ans=A\n", "a\naa\nr1 ans=A\n", "a\nab\nr3 ans=B\n"]
    assert outcome.decision.answer == "B"
    tree = outcome.tree
    expanded = sorted(n.solution for n in tree.nodes if n.children)
    assert expanded == ["", "a\n", "a\naa\n", "a\nab\n", "d\n"]  # b and de were pruned
    assert len(tree.nodes) == 1 + 4 + 4 + 4
    assert outcome.ledger.samples == 12


def test_beam_sort_completed_returns_the_n_best():
    world = TableWorld(BEAM_STEPS, BEAM_SCORES)
    outcome = run(world, "beam", n=4, beam_width=2, max_depth=3, sort_completed=True)
    scores = [round(c.step_scores[-1], 2) for c in outcome.decision.candidates]
    assert scores == [0.95, 0.9, 0.8, 0.7]
    assert outcome.decision.answer == "A"


def test_beam_keeps_searching_past_early_low_scored_finishes():
    # the world: 4 of the 16 first steps finish at once with answer B and score 0.1;
    # the others go on and finish with A. Beam search must not stop at the first M finishes.
    steps = {("", k): end(f"f{k}", "B") if k < 4 else step(f"s{k}") for k in range(16)}
    scores = {f"f{k} ans=B\n": 0.1 for k in range(4)} | {f"s{k}\n": 0.5 + k / 100 for k in range(4, 16)}
    for k in range(4, 16):
        for j in range(16):
            steps[(f"s{k}\n", ("end", j))] = end(f"e{j}", "A")
            scores[f"s{k}\ne{j} ans=A\n"] = 0.6
    outcome = run(TableWorld(steps, scores), "beam", n=16, beam_width=4, max_depth=2)
    answers = [c.answer for c in outcome.decision.candidates]
    assert answers == ["B"] * 4 + ["A"] * 12
    assert outcome.decision.answer == "A"
    # survivors: the 4 best unfinished (s12..s15), 4 copies each in the last iteration
    assert sorted({c.parent.text for c in outcome.decision.candidates[4:]}) == ["s12\n", "s13\n", "s14\n", "s15\n"]


# --- DVTS: N=4, M=2 (two subtrees), three iterations -------------------------------------
# root -> x0 .3, x1 .6 (subtree 0) | y0 ends (B) .5, y1 .5 (subtree 1)
# subtree 1: y0 and y1 tie, the first (y0) is best and finished: the subtree ends.
# subtree 0: x1 best -> x1a ends (A) .2, x1b .9 -> x1b best -> (last: to the end)
#            r0 (A) .4, r1 (C) .7 -> r1 best, ended.
# outputs: r0, r1, y0, y1 (y1 unfinished: "no answer"); weighted A .4, C .7, B .5, none .5: C
DVTS_STEPS = {
    ("", 0): step("x0"),
    ("", 1): step("x1"),
    ("", 2): end("y0", "B"),
    ("", 3): step("y1"),
    ("x1\n", 0): end("x1a", "A"),
    ("x1\n", 1): step("x1b"),
    ("x1\nx1b\n", ("end", 0)): end("r0", "A"),
    ("x1\nx1b\n", ("end", 1)): end("r1", "C"),
}
DVTS_SCORES = {
    "x0\n": 0.3,
    "x1\n": 0.6,
    "y0 ans=B\n": 0.5,
    "y1\n": 0.5,
    "x1\nx1a ans=A\n": 0.2,
    "x1\nx1b\n": 0.9,
    "x1\nx1b\nr0 ans=A\n": 0.4,
    "x1\nx1b\nr1 ans=C\n": 0.7,
}


def test_dvts_follows_the_best_child_of_each_subtree_and_outputs_its_last_expansion():
    outcome = run(TableWorld(DVTS_STEPS, DVTS_SCORES), "dvts", n=4, beam_width=2, max_depth=3)
    solutions = [c.solution for c in outcome.decision.candidates]
    assert solutions == ["x1\nx1b\nr0 ans=A\n", "x1\nx1b\nr1 ans=C\n", "y0 ans=B\n", "y1\n"]
    assert [c.answer for c in outcome.decision.candidates] == ["A", "C", "B", None]
    assert outcome.decision.answer == "C"
    assert sorted(n.solution for n in outcome.tree.nodes if n.children) == ["", "x1\n", "x1\nx1b\n"]


@pytest.mark.parametrize("unanswered, answer", [("vote", None), ("drop", "A")])
def test_an_unfinished_output_votes_for_no_answer_unless_dropped(unanswered, answer):
    # y0 no longer ends: subtree 1 goes on from it (.5 > y1 .45) into z0, z1, which both end
    # without an answer. Outputs r0 (A), r1 (C), z0, z1: by majority "no answer" has two
    # votes and wins (the decision is None: wrong); dropped, A, C tie and the first (A) wins.
    scores = DVTS_SCORES | {"y1\n": 0.45}
    outcome = run(
        TableWorld(
            DVTS_STEPS | {("", 2): step("y0"), ("y0\n", 0): end("z0", None), ("y0\n", 1): end("z1", None)},
            scores | {"y0\n": 0.5, "y0\nz0 stop\n": 0.1, "y0\nz1 stop\n": 0.2},
        ),  # fmt: skip
        "dvts",
        n=4,
        beam_width=2,
        max_depth=3,
        selector="majority",
        unanswered=unanswered,
    )
    assert [c.answer for c in outcome.decision.candidates] == ["A", "C", None, None]
    assert outcome.decision.answer == answer


@pytest.mark.parametrize("name", ["beam", "dvts"])
def test_default_width_is_four_but_never_wider_than_n(name):
    from tests.conftest import make_config

    widths = [make_config(f"strategy={name}", f"strategy.n={n}").strategy.beam_width for n in (1, 2, 4, 16)]
    assert widths == [1, 2, 4, 4]


class _Twins(Script):
    """Root children 1 and 2 write the same step, "dup": two beams with the same text."""

    def text(self, label: str) -> str:
        return "dup\n" if label in ("1", "2") else super().text(label)


@pytest.mark.parametrize("filter_duplicates", [True, False])
def test_beam_filter_duplicates_drops_a_repeated_beam_before_choosing_survivors(filter_duplicates):
    # N = 4, M = 2: two survivors. The twins score 0.9, 3 0.5, 4 0.4: without the filter both
    # twins survive; with it the second twin is dropped and 3 survives beside the first
    ends = {f"dup.{k}": "A" for k in range(1, 5)} | {"3.1": "B", "3.2": "B"}
    world = _Twins(scores={"dup": 0.9, "3": 0.5, "4": 0.4}, answers=ends)
    tree, decision = run_scripted(world, "beam", n=4, beam_width=2, max_depth=3, filter_duplicates=filter_duplicates)
    if filter_duplicates:
        assert children_labels(tree, "3") == ["3.1", "3.2"]
        assert [c.answer for c in decision.candidates] == ["A", "B", "A", "B"]  # copy order: beam 0, 1, 0, 1
    else:
        assert children_labels(tree, "3") == []
        assert [c.answer for c in decision.candidates] == ["A", "A", "A", "A"]


def test_beam_treats_a_blank_step_as_finished():
    script = Script(scores={"2": 0.1, "3": 0.2, "4": 0.3}, answers={"3.1": "X", "3.2": "X", "4.1": "Y", "4.2": "Y"})
    tree, decision = run_scripted(script, "beam", policy=BlankFirstChild(script), n=4, beam_width=2, max_depth=3)
    blank = tree.root.children[0]
    assert blank.text == "" and blank.children == []
    assert decision.candidates[0] is blank  # completed at once, before the survivors' ends
    assert children_labels(tree, "2") == [] and children_labels(tree, "3") == ["3.1", "3.2"]
