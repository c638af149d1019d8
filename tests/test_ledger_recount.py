"""The ledger recounted from the tree's text alone, with the backend's own tokenizer.

The recount reads only what was generated (each node's `text`, the edges) and whether a
node was scored; every context, prompt, cached prefix and token count is rebuilt from the
text, none is taken from the fields the engine wrote (`context`, `tokens`, `prefills`,
`reward_tokens`). FLOPs are summed token by token with Kaplan's formula written out here.
The policy has a prefix cache (tests/fake_backends.py), so cached prompt tokens are charged
in the fast suite.
"""

import pytest

from infscale.budgets.budget import Budget
from infscale.experiments.build import build
from infscale.search.engine import Engine, Sampling
from tests.conftest import make_config
from tests.engine_helpers import strategy
from tests.fake_backends import PrefixCachePolicy, simulated_policy, simulated_prm, simulated_task
from tests.recount import recount

TASK = simulated_task(n=8, seed=11)


@pytest.mark.parametrize("name", ["rebase", "beam", "best_of_n"])
def test_ledger_equals_a_recount_from_the_tree_text(name):
    policy = PrefixCachePolicy(simulated_policy())
    reward = simulated_prm()
    engine = Engine(TASK, policy, reward, Budget(max_samples=None, max_tokens=None, max_flops=None), Sampling())
    cached_anywhere = 0
    for outcome in engine.run(TASK.problems(), strategy(name, TASK, n=8)):
        graph = outcome.tree.to_networkx()
        expected = recount(graph, outcome.problem.prompt, policy, reward, TASK)
        tokens, flops = outcome.ledger.tokens_record(), outcome.ledger.flops_record()
        assert tokens["generated"] == expected["generated"]
        assert tokens["prompt_computed"] == expected["computed"]
        assert tokens["prompt_cached"] == expected["cached"]
        assert tokens["reward"] == expected["reward"]
        assert flops["policy_decode"] == pytest.approx(expected["decode"], rel=1e-12)
        assert flops["policy_prefill"] == pytest.approx(expected["prefill"], rel=1e-12)
        assert flops["reward"] == pytest.approx(expected["reward_flops"], rel=1e-12)
        total = expected["decode"] + expected["prefill"] + expected["reward_flops"]
        assert flops["total"] == pytest.approx(total, rel=1e-12)
        assert flops["paper"] == 2 * policy.spec.n_nonembed * expected["generated"]
        cached_anywhere += expected["cached"]
    if name != "best_of_n":  # tree search re-reads its parents' paths: the cache must serve them
        assert cached_anywhere > 0


@pytest.mark.slow
def test_toy_model_ledger_equals_a_recount_with_its_tokenizer():
    """policy=toy_small, reward=toy_prm (transformers): contexts and prompt lengths rebuilt
    with the models' own tokenizers, caches off so that every prompt and path is computed whole
    (tests/test_cache.py recounts the cached fields)."""
    parts = build(
        make_config(
            "task=toy_arith",
            "policy=toy_small",
            "reward=toy_prm",
            "strategy=rebase",
            "strategy.n=4",
            "policy.cache_mb=0",
            "reward.cache_mb=0",
            "reward.incremental=false",
        )
    )
    problems = parts.task.problems()[:2]
    for outcome in parts.engine.run(problems, parts.strategy):
        graph = outcome.tree.to_networkx()
        expected = recount(
            graph, outcome.problem.prompt, parts.policy, parts.reward, parts.task, prefix_cache=False, text_tokens=False
        )
        tokens, flops = outcome.ledger.tokens_record(), outcome.ledger.flops_record()
        assert (tokens["prompt_computed"], tokens["prompt_cached"]) == (expected["computed"], 0)
        assert tokens["reward"] == expected["reward"]
        assert flops["policy_decode"] == pytest.approx(expected["decode"], rel=1e-12)
        assert flops["policy_prefill"] == pytest.approx(expected["prefill"], rel=1e-12)
        assert flops["reward"] == pytest.approx(expected["reward_flops"], rel=1e-12)
