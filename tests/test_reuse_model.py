"""The reuse model (`compute.reuse`, search/charges.py): what the ledger charges is a function
of the search tree, recounted here by hand; what a backend's cache happened to hold is only
observed (`tokens.recomputed`, `flops.executed`).

The scripted world (tests/scripted_world.py) counts one token per line: the prompt "Q\\n" is
1 token, a node's prompt is 1 + its depth, and the scripted PRM reads 1 + steps tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from infscale.budgets.model_spec import ModelSpec
from infscale.experiments.app.build import build
from infscale.search.backends import ScoreRequest, ScoreResult
from infscale.search.engine import Engine, Sampling
from infscale.search.ops import Expand, Score
from infscale.search.strategy import Run, Strategy
from tests.conftest import make_config
from tests.engine_helpers import MODEL, strategy
from tests.fake_backends import PrefixCachePolicy, simulated_policy, simulated_prm, simulated_task
from tests.recount import kaplan
from tests.scripted_world import TASK, Script, ScriptedPolicy, ScriptedPRM, by_label

SPEC = ModelSpec.from_config(MODEL)


@dataclass
class HandTree(Strategy):
    """Root -> 1, 2; 1 -> 1.1, 1.2; 1 again -> 1.3; 1.1 -> 1.1.1; scored as it grows."""

    def run(self, root) -> Run:
        first = yield Expand([root], 2)
        yield Score(first)
        grand = yield Expand([first[0]], 2)
        yield Score(grand)
        again = yield Expand([first[0]], 1)
        deep = yield Expand([grand[0]], 1)
        yield Score([deep[0], again[0]])
        return self.decide([])


class CostedPolicy(ScriptedPolicy):
    spec = SPEC


class IncrementalPRM(ScriptedPRM):
    """Prefix-stable: scores the steps after `known`, and reports running the whole path."""

    spec, incremental = SPEC, True

    def score(self, requests: list[ScoreRequest]) -> list[ScoreResult]:
        return [
            ScoreResult(scores[r.known :], self.count_tokens(r), 0)
            for r, scores in zip(requests, super().score(requests))
        ]


class WholePathPRM(ScriptedPRM):
    spec = SPEC


def hand_run(reuse: str, prm: ScriptedPRM):
    script = Script()
    engine = Engine(TASK, CostedPolicy(script), prm, sampling=Sampling(max_step_tokens=4), reuse=reuse)
    hand = HandTree(task=TASK, n=2, selector="best", aggregation="last", max_depth=10, unanswered="vote")
    (outcome,) = engine.run(TASK.problems(), hand)
    return outcome


def spans(pairs) -> float:
    return sum(kaplan(SPEC, reused, computed) for reused, computed in pairs)


# (reused, computed) prompt tokens of each expansion, by hand.
#   root (1 token) first: the whole prompt.            prefix (0, 1)   none (0, 1)
#   node 1 (2 tokens) first: beyond the root's 1.      prefix (1, 1)   none (0, 2)
#   node 1 again: already prefilled.                   prefix (2, 0)   none (0, 2)
#   node 1.1 (3 tokens) first: beyond node 1's 2.      prefix (2, 1)   none (0, 3)
PROMPTS = {"prefix": [(0, 1), (1, 1), (2, 0), (2, 1)], "none": [(0, 1), (0, 2), (0, 2), (0, 3)]}
# (reused, computed) PRM tokens of each scored path (1 + steps tokens), by hand, for an
# incremental PRM under `prefix`: a path reuses its nearest scored ancestor's path.
#   1, 2: no scored ancestor, whole (2 tokens each).     (0, 2), (0, 2)
#   1.1, 1.2 (3 tokens): node 1's 2 tokens reused.       (2, 1), (2, 1)
#   1.1.1 (4 tokens) after 1.1's 3; 1.3 after 1's 2.     (3, 1), (2, 1)
# Under `none`, or for a PRM that is not incremental, every path is read whole.
PATHS_PREFIX = [(0, 2), (0, 2), (2, 1), (2, 1), (3, 1), (2, 1)]
PATHS_WHOLE = [(0, 2), (0, 2), (0, 3), (0, 3), (0, 4), (0, 3)]


@pytest.mark.parametrize(
    ("reuse", "prm", "paths"),
    [
        ("prefix", IncrementalPRM, PATHS_PREFIX),
        ("none", IncrementalPRM, PATHS_WHOLE),
        ("prefix", WholePathPRM, PATHS_WHOLE),
        ("none", WholePathPRM, PATHS_WHOLE),
    ],
)
def test_charges_recounted_by_hand(reuse, prm, paths):
    outcome = hand_run(reuse, prm(Script()))
    nodes = by_label(outcome.tree)
    assert sorted(nodes) == ["1", "1.1", "1.1.1", "1.2", "1.3", "2"]
    assert [p for node in outcome.tree for p in node.prefills] == PROMPTS[reuse]
    prompts, ledger = PROMPTS[reuse], outcome.ledger
    assert ledger.prompt_computed == sum(c for _, c in prompts)  # prefix 3, none 8
    assert ledger.prompt_cached == sum(r for r, _ in prompts)  # prefix 5, none 0
    assert ledger.flops_prefill == pytest.approx(spans(prompts), rel=1e-12)
    scored = [nodes[label] for label in ("1", "2", "1.1", "1.2", "1.1.1", "1.3")]
    assert [(n.reward_cached, n.reward_tokens) for n in scored] == paths
    assert ledger.reward_tokens == sum(c for _, c in paths)  # prefix 8, whole 17
    assert ledger.flops_reward == pytest.approx(spans(paths), rel=1e-12)
    # The scripted backends report running every prompt and path whole: 8 + 17 tokens.
    assert ledger.recomputed == 8 + 17 - ledger.prompt_computed - ledger.reward_tokens
    whole = spans(PROMPTS["none"]) + spans(PATHS_WHOLE)
    assert ledger.flops_executed == pytest.approx(ledger.flops_decode + whole, rel=1e-12)


def test_reuse_must_be_a_known_model():
    with pytest.raises(ValueError, match="compute.reuse must be one of prefix, none, got 'lru'"):
        Engine(TASK, ScriptedPolicy(Script()), None, reuse="lru")


class LRUPolicy(PrefixCachePolicy):
    """A prefix cache that keeps only the last `capacity` prompts: what it serves depends on
    how many problems share it, as `policy.cache_mb` does."""

    def __init__(self, inner, capacity: int):
        super().__init__(inner)
        self.capacity = capacity

    def generate(self, requests):
        results = super().generate(requests)
        del self.computed[: -self.capacity]
        return results


@pytest.mark.parametrize("reuse", ["prefix", "none"])
def test_charges_do_not_depend_on_problems_in_flight_or_the_cache(reuse):
    """REBASE on the simulated world with a 6-prompt LRU cache: the cache serves less with more
    problems in flight, and the bill stays the same to the last FLOP."""
    task = simulated_task(n=6, seed=3)
    runs = {}
    for concurrent in (1, 8, 512):
        policy = LRUPolicy(simulated_policy(), capacity=6)
        engine = Engine(task, policy, simulated_prm(), max_concurrent=concurrent, reuse=reuse)
        runs[concurrent] = list(engine.run(task.problems(), strategy("rebase", task, n=8)))
    for concurrent in (8, 512):
        for a, b in zip(runs[1], runs[concurrent]):
            assert a.decision.answer == b.decision.answer
            assert a.ledger.flops_record()["total"] == pytest.approx(b.ledger.flops_total, rel=1e-12)
            assert a.ledger.tokens_record() | {"recomputed": 0} == b.ledger.tokens_record() | {"recomputed": 0}
    recomputed = {c: sum(o.ledger.recomputed for o in runs[c]) for c in runs}
    # One problem at a time keeps its parents' prompts (and serves a twin prompt of the same
    # text whole: below the model's charge); 8 or 512 at a time evict them.
    assert recomputed[1] < recomputed[512]
    if reuse == "prefix":
        assert recomputed[1] < 0 < recomputed[512]
    else:  # the cache still serves something: below "every prompt whole"
        assert recomputed[512] < 0


TOY_SUM = ("task=toy_sum", "policy=toy_sum_s", "reward=toy_sum_prm", "strategy=rebase", "strategy.n=16")
SETTINGS = {
    "512 in flight, caches 1 GiB": ("engine.max_concurrent=512", "policy.cache_mb=1024", "reward.cache_mb=1024"),
    "8 in flight": ("engine.max_concurrent=8",),
    "1 in flight": ("engine.max_concurrent=1",),
    "caches off": ("policy.cache_mb=0", "reward.cache_mb=0"),
}


@pytest.fixture(scope="module")
def toy_sum_runs():
    """REBASE n=16 on 4 toy_sum problems with the ladder's transformers policy and PRM."""
    runs = {}
    for name, overrides in SETTINGS.items():
        parts = build(make_config(*TOY_SUM, "policy.threads=1", *overrides))
        runs[name] = list(parts.engine.run(parts.task.problems()[:4], parts.strategy))
    return runs


@pytest.mark.slow
def test_toy_sum_bill_is_the_same_in_flight_and_cached_or_not(toy_sum_runs):
    reference = toy_sum_runs["512 in flight, caches 1 GiB"]
    for name, outcomes in toy_sum_runs.items():
        for a, b in zip(reference, outcomes):
            assert a.decision.answer == b.decision.answer, name
            assert b.ledger.flops_total == pytest.approx(a.ledger.flops_total, rel=1e-9), name
            assert b.ledger.prompt_computed == a.ledger.prompt_computed, name
            assert b.ledger.reward_tokens == a.ledger.reward_tokens, name


@pytest.mark.slow
def test_toy_sum_recomputed_is_what_the_caches_missed(toy_sum_runs):
    """With 1 GiB caches the transformers backends compute exactly what the prefix model
    charges; with the caches off every prompt and path runs whole, and the excess shows only
    in `tokens.recomputed` and `flops.executed`."""
    for outcome in toy_sum_runs["512 in flight, caches 1 GiB"]:
        assert outcome.ledger.recomputed == 0
        assert outcome.ledger.flops_executed == pytest.approx(outcome.ledger.flops_total, rel=1e-12)
    for outcome in toy_sum_runs["caches off"]:
        ledger = outcome.ledger
        assert ledger.recomputed == ledger.prompt_cached + ledger.reward_cached > 0
        assert ledger.flops_executed > 1.5 * ledger.flops_total
