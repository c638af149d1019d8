"""The ledger recounted from the tree's text alone, with the backend's own tokenizer.

The recount reads only what was generated (each node's `text`, the edges) and whether a
node was scored; every context, prompt, cached prefix and token count is rebuilt from the
text, none is taken from the fields the engine wrote (`context`, `tokens`, `prefills`,
`reward_tokens`). FLOPs are summed token by token with Kaplan's formula written out here.
The ledger charges by the reuse model (`compute.reuse=prefix`, search/charges.py), whatever
the policy's prefix cache (tests/fake_backends.py) served.
"""

import pytest

from infscale.budgets.budget import Budget
from infscale.experiments.app.build import build
from infscale.search.engine import Engine, Sampling
from tests.conftest import make_config
from tests.engine_helpers import strategy, strategy_names
from tests.fake_backends import PrefixCachePolicy, simulated_policy, simulated_prm, simulated_task
from tests.recount import recount

TASK = simulated_task(n=8, seed=11)


# Every configured strategy at its defaults, and each option that changes what is generated.
CASES = [(name, {}) for name in strategy_names()] + [
    ("beam", {"beam_width": 2, "lookahead": 1}),
    ("beam", {"filter_duplicates": True, "sort_completed": True}),
    ("dvts", {"beam_width": 2}),
    ("rebase", {"select_method": "softmax_with_truncate", "truncate_ratio": 0.5}),
    ("mcts", {"simulate": "sample", "output": "vote"}),
    ("mcts", {"simulate": "random", "output": "max_visit"}),
    ("best_of_n", {"unanswered": "drop"}),
]


def expands_a_node_twice(name: str, options: dict) -> bool:
    """The recount assumes one request per expanded node. Adaptive samples the root in waves,
    and beam's look-ahead expands a copy greedily before it is expanded again as a beam: each
    later request finds the whole prompt in the cache, which the text alone cannot tell."""
    return name == "adaptive" or options.get("lookahead", 0) > 0


@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}-{'-'.join(map(str, o.values()))}" for n, o in CASES])
def test_ledger_equals_a_recount_from_the_tree_text(name, options):
    policy = PrefixCachePolicy(simulated_policy())
    reward = simulated_prm()
    engine = Engine(TASK, policy, reward, Budget(max_samples=None, max_tokens=None, max_flops=None), Sampling())
    cached_anywhere = 0
    for outcome in engine.run(TASK.problems(), strategy(name, TASK, n=8, **options)):
        graph = outcome.tree.to_networkx()
        expected = recount(graph, outcome.problem.prompt, policy, reward, TASK)
        tokens, flops = outcome.ledger.tokens_record(), outcome.ledger.flops_record()
        assert tokens["generated"] == expected["generated"]
        assert tokens["prompt_computed"] == expected["computed"]
        if expands_a_node_twice(name, options):  # computed tokens and FLOPs still exact; more read from cache
            assert tokens["prompt_cached"] >= expected["cached"]
        else:
            assert tokens["prompt_cached"] == expected["cached"]
        assert tokens["reward"] == expected["reward"]
        assert flops["policy_decode"] == pytest.approx(expected["decode"], rel=1e-12)
        assert flops["policy_prefill"] == pytest.approx(expected["prefill"], rel=1e-12)
        assert flops["reward"] == pytest.approx(expected["reward_flops"], rel=1e-12)
        total = expected["decode"] + expected["prefill"] + expected["reward_flops"]
        assert flops["total"] == pytest.approx(total, rel=1e-12)
        assert flops["paper"] == 2 * policy.spec.n_nonembed * expected["generated"]
        cached_anywhere += expected["cached"]
    if name not in ("best_of_n", "best_of_n_majority", "greedy", "adaptive"):  # tree search re-reads its parents' paths
        assert cached_anywhere > 0


@pytest.mark.slow
def test_toy_model_ledger_equals_a_recount_with_its_tokenizer():
    """policy=toy_small, reward=toy_prm (transformers): contexts and prompt lengths rebuilt
    with the models' own tokenizers. The caches are off, and the reuse model still charges
    each expansion its new prompt tokens after its parent's; the PRM is not incremental, so
    every path is charged whole."""
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
        expected = recount(graph, outcome.problem.prompt, parts.policy, parts.reward, parts.task, text_tokens=False)
        tokens, flops = outcome.ledger.tokens_record(), outcome.ledger.flops_record()
        assert (tokens["prompt_computed"], tokens["prompt_cached"]) == (expected["computed"], expected["cached"])
        assert tokens["recomputed"] == expected["cached"]  # the backend ran every prompt whole
        assert tokens["reward"] == expected["reward"]
        assert flops["policy_decode"] == pytest.approx(expected["decode"], rel=1e-12)
        assert flops["policy_prefill"] == pytest.approx(expected["prefill"], rel=1e-12)
        assert flops["reward"] == pytest.approx(expected["reward_flops"], rel=1e-12)
