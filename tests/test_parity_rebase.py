"""Parity: infscale's `rebase` against REBASE's reference code.

`ref_rebase` re-writes the control flow of thu-wyz/inference_scaling, rebase.py:
`reward_guided_search` (the depth loop, 25 -> `max_depth`), `Tree.select_and_expand`
(finished nodes shrink the remaining width) and `Tree.select_softmax` /
`Tree.select_softmax_with_truncation` (stable ascending sort by score, reversed; sequential
ceil), on a scripted world (tests/parity_world.py); the test drives infscale's strategy
through the real Engine on the same world. Deliberate differences, written into the port:
the widths use exact arithmetic on the exponentials (the reference's float32 tensors can
round a whole share up by one), and the answer is chosen by search-and-learn's voting
rules (ties to the group that came first; math_evaluate.py's streaming `>` keeps the
group that reached the top sum first).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from infscale.search.selection import aggregate
from infscale.search.strategies.rebase import balance
from tests.engine_helpers import strategy
from tests.parity_world import Draws, ScriptedTask, World, assert_same, first_world_fast, sal_vote, scripted_outcomes


def ref_select(nodes, weights, width, temperature, ratio):
    pairs = sorted(zip(nodes, weights), key=lambda pair: pair[1])
    pairs.reverse()
    pairs = pairs[: int(math.ceil(len(pairs) * ratio))]
    exp_weights = [Fraction(math.exp(w / temperature)) for _, w in pairs]
    total, widths = sum(exp_weights), []
    for weight in exp_weights:
        num = int(math.ceil(width * weight / total))
        widths.append(num)
        width -= num
        total -= weight
    return [node for node, _ in pairs], widths


def ref_rebase(world, prompt, n, temperature, ratio, max_depth, agg, selector):
    draws = Draws(world)
    root = dict(text="", score=1.0, leaf=False, ended=False)
    depth_nodes, remaining, depth, leaves = [[root]], n, 0, []
    while True:
        cands = []
        for node in depth_nodes[depth]:
            if node["ended"]:
                remaining -= 1
            else:
                cands.append(node)
        if remaining <= 0 or not cands:
            break
        nodes, widths = ref_select(cands, [c["score"] for c in cands], remaining, temperature, ratio)
        depth_nodes.append([])
        for node, width in zip(nodes, widths):
            for _ in range(width if width >= 1 else 0):
                step = draws.sample(prompt + node["text"])
                text = node["text"] + step.text
                child = dict(text=text, score=world.score(prompt + text), answer=step.answer)
                child["ended"] = step.finish != "step" or text.count("\n") >= max_depth
                child["leaf"] = step.finish == "end"  # "The answer is" in the text there
                depth_nodes[-1].append(child)
                if child["leaf"]:
                    leaves.append(child)
        depth += 1
        if depth >= max_depth:
            break
    scores = [aggregate(world.scores(prompt, x["text"]), agg) for x in leaves]
    answers = [x["answer"] for x in leaves]
    return (
        draws.generated,
        [x["text"] for x in leaves],
        answers,
        sal_vote(answers, scores, selector) if leaves else None,
    )


def run_both(seed, ties, n, depth, temperature=0.1, ratio=1.0, selector="weighted", aggregation="last"):
    world = World(seed, ties=ties, alphabet=50, cap=depth + 2)
    task = ScriptedTask(n=2)
    method = "softmax" if ratio == 1.0 else "softmax_with_truncate"
    rebase = strategy(
        "rebase",
        task,
        n=n,
        max_depth=depth,
        balance_temperature=temperature,
        select_method=method,
        truncate_ratio=ratio,
        selector=selector,
        aggregation=aggregation,
        unanswered="vote",
    )
    for outcome in scripted_outcomes(world, task, rebase):
        prompt = outcome.problem.prompt
        steps, texts, answers, decision = ref_rebase(world, prompt, n, temperature, ratio, depth, aggregation, selector)
        assert_same(outcome, steps, texts, answers, decision)


@pytest.mark.parametrize("worlds", first_world_fast(itertools.product(range(5), (4, 16, 27), (3, 6), (0.1, 0.2, 1.0))))
@pytest.mark.parametrize("ties", [False, True])
def test_rebase_matches_reference(ties, worlds):
    for seed, n, depth, temperature in worlds:
        run_both(seed, ties, n, depth, temperature)


@pytest.mark.parametrize("worlds", first_world_fast(itertools.product(range(15), (False, True))))
@pytest.mark.parametrize("ratio", [0.5, 0.3, 0.75])
def test_rebase_truncation_matches_reference(ratio, worlds):
    for seed, ties in worlds:
        run_both(300 + seed, ties, 16, 5, 0.2, ratio)


@pytest.mark.parametrize("worlds", first_world_fast(itertools.product(range(12), (False, True))))
@pytest.mark.parametrize("selector,aggregation", [("majority", "last"), ("best", "min"), ("weighted", "prod")])
def test_rebase_voting_matches_reference(selector, aggregation, worlds):
    for seed, ties in worlds:
        run_both(600 + seed, ties, 8, 5, 0.1, 1.0, selector, aggregation)


def test_whole_shares_are_not_rounded_up():
    # 14 * e^2.5 / (2 * e^2.5) is exactly 7; 10 * e^9 / (2 * e^9) exactly 5 (float32 gives [6, 4])
    assert balance([0.6, 0.5, 0.5], 27, 0.2) == [13, 7, 7]
    assert balance([0.9, 0.9], 10, 0.1) == [5, 5]
    assert balance([0.5, 0.5, 0.5, 0.5], 8, 0.1) == [2, 2, 2, 2]
