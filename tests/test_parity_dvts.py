"""Parity: infscale's `dvts` against search-and-learn's `_dvts`.

`sal_dvts` re-writes the control flow of huggingface/search-and-learn,
src/sal/search/diverse_verifier_tree_search.py, `_dvts` (no look-ahead: infscale offers
`lookahead` for beam search only), on a scripted world (tests/parity_world.py); the test
drives infscale's strategy through the real Engine on the same world. An output that did
not finish votes as "" there and as "no answer" here.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from infscale.search.selection import aggregate
from tests.engine_helpers import strategy
from tests.parity_world import Draws, ScriptedTask, World, assert_same, first_world_fast, sal_vote, scripted_outcomes


def sal_dvts(world, prompt, n, m, iterations, agg, selector):
    draws = Draws(world)
    beams = [dict(text="", pruned=False, previous="", nexts=[], scores=[]) for _ in range(n // m)]
    for i in range(iterations):
        live = [b for b in beams if not b["pruned"]]
        if not live:
            break
        until = "end" if i == iterations - 1 else "step"
        for beam in live:
            beam["nexts"] = [draws.sample(prompt + beam["text"], until) for _ in range(m)]
            beam["scores"] = [world.scores(prompt, beam["text"] + s.text) for s in beam["nexts"]]
            best = int(np.argmax([aggregate(s, agg) for s in beam["scores"]]))
            beam["previous"], beam["text"] = beam["text"], beam["text"] + beam["nexts"][best].text
            chosen = beam["nexts"][best]
            if chosen.text == "" or chosen.finish != "step" or chosen.answer is not None:
                beam["pruned"] = True
    # the outputs: the m children of each subtree's last expansion
    texts, answers, scores = [], [], []
    for beam in beams:
        for step, score in zip(beam["nexts"], beam["scores"]):
            texts.append(beam["previous"] + step.text)
            answers.append(step.answer)
            scores.append(aggregate(score, agg))
    return draws.generated, texts, answers, sal_vote(answers, scores, selector)


def run_both(seed, ties, n, m, depth, selector="weighted"):
    world = World(seed, ties=ties, alphabet=4, p_length=0.05, cap=depth + 2)
    task = ScriptedTask(n=2)
    dvts = strategy("dvts", task, n=n, beam_width=m, max_depth=depth, selector=selector, unanswered="vote")
    for outcome in scripted_outcomes(world, task, dvts):
        steps, texts, answers, decision = sal_dvts(world, outcome.problem.prompt, n, m, depth, "last", selector)
        assert_same(outcome, steps, texts, answers, decision)


@pytest.mark.parametrize(
    "worlds", first_world_fast(itertools.product(range(15), [(4, 2), (16, 4), (12, 3), (8, 8), (6, 1)], (3, 6)))
)
@pytest.mark.parametrize("ties", [False, True])
def test_dvts_matches_search_and_learn(ties, worlds):
    for seed, (n, m), depth in worlds:
        run_both(seed, ties, n, m, depth)


@pytest.mark.parametrize("worlds", first_world_fast(itertools.product(range(20), (False, True))))
@pytest.mark.parametrize("selector", ["majority", "best"])
def test_dvts_selectors_match_search_and_learn(selector, worlds):
    for seed, ties in worlds:
        run_both(500 + seed, ties, 8, 2, 5, selector)
