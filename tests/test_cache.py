"""Cache-aware compute (issue 13): incremental PRM scoring changes what is charged, prefix KV
reuse what the backends run (observed, search/charges.py), never what is found.

Same seed, caches on vs off, on the toy world (the real toy_small policy and toy PRM): the
same answers, verdicts and candidate texts, step scores within 1e-5; fewer PRM tokens
charged, fewer prompt and PRM tokens run; and every charged count recounted from the tree's
text with the backends' own tokenizers.
"""

from __future__ import annotations

import pytest
import torch

from infscale.experiments.app.build import build, load
from infscale.rewards.hf_prm import HFPRM
from infscale.search.backends import GenerationRequest, RewardModel, ScoreRequest, ScoreResult
from infscale.search.prefix_cache import PrefixCache
from tests.conftest import make_config

TOY = ("task=toy_arith", "policy=toy_small", "reward=toy_prm", "policy.threads=1")
OFF = ("policy.cache_mb=0", "reward.cache_mb=0", "reward.incremental=false")


def toy_prm(**kwargs) -> HFPRM:
    return load("reward", "toy_prm", batch_size=64, **kwargs)


def search(strategy: str, n: int, problems: int, *extra: str):
    parts = build(make_config(*TOY, f"strategy={strategy}", f"strategy.n={n}", *extra))
    outcomes = list(parts.engine.run(parts.task.problems()[:problems], parts.strategy))
    return parts, outcomes


@pytest.fixture(scope="module", params=["rebase", "beam"])
def on_and_off(request):
    return search(request.param, 8, 6), search(request.param, 8, 6, *OFF)


@pytest.mark.slow
def test_caches_change_the_bill_not_the_search(on_and_off):
    (_, on), (_, off) = on_and_off
    for a, b in zip(on, off):
        assert a.problem.id == b.problem.id
        assert a.decision.answer == b.decision.answer
        assert [c.solution for c in a.decision.candidates] == [c.solution for c in b.decision.candidates]
        for x, y in zip(a.decision.candidates, b.decision.candidates):
            assert x.step_scores == pytest.approx(y.step_scores, abs=1e-5)
        assert [n.solution for n in a.tree] == [n.solution for n in b.tree]
        assert a.ledger.generated == b.ledger.generated
    ledgers_on, ledgers_off = [o.ledger for o in on], [o.ledger for o in off]
    # Prompts are charged by the reuse model, cache or not; the uncached run ran each whole.
    for x, y in zip(ledgers_on, ledgers_off):
        assert (x.prompt_computed, x.prompt_cached) == (y.prompt_computed, y.prompt_cached)
        assert y.observed_prompt == y.prompt_computed + y.prompt_cached
        assert (y.observed_reward, y.reward_cached) == (y.reward_tokens, 0)  # whole paths, charged whole
    # Incremental scoring is charged less; the caches make the backends run less.
    assert sum(x.reward_tokens for x in ledgers_on) < 0.5 * sum(x.reward_tokens for x in ledgers_off)
    run_on = sum(x.observed_prompt + x.observed_reward for x in ledgers_on)
    run_off = sum(x.observed_prompt + x.observed_reward for x in ledgers_off)
    assert run_on < 0.5 * run_off
    assert sum(x.flops_executed for x in ledgers_on) < 0.6 * sum(x.flops_executed for x in ledgers_off)


@pytest.mark.slow
def test_cached_counts_recount_from_the_tree_text(on_and_off):
    """Computed + cached = the whole input, recounted from text with the backends' tokenizers;
    FLOPs charge the computed tokens at their real positions."""
    (parts, on), _ = on_and_off
    policy, reward, task = parts.policy, parts.reward, parts.task
    for outcome in on:
        prompt = outcome.problem.prompt
        reward_flops, prefill_flops = 0.0, 0.0
        for node in outcome.tree:
            for cached, computed in node.prefills:
                assert cached + computed == policy.count_tokens(prompt + node.solution)
                prefill_flops += policy.spec.flops_span(cached, computed)
            if node.step_scores:
                whole = reward.count_tokens(ScoreRequest(prompt, tuple(task.split_steps(node.solution))))
                assert node.reward_tokens + node.reward_cached == whole
                reward_flops += reward.spec.flops_span(node.reward_cached, node.reward_tokens)
                if node.depth > 1:
                    assert node.reward_cached > 0  # the parent's path was reused
        assert outcome.ledger.flops_reward == pytest.approx(reward_flops, rel=1e-12)
        assert outcome.ledger.flops_prefill == pytest.approx(prefill_flops, rel=1e-12)
        assert outcome.ledger.reward_cached == sum(n.reward_cached for n in outcome.tree)


def test_incremental_scores_equal_whole_path_scores_and_report_their_cost():
    task = load("task", "toy_arith", seed=3, n=12)
    rows = [(p.prompt, tuple(task.split_steps(task.solution(p)))) for p in task.problems()]
    rows = [(prompt, steps) for prompt, steps in rows if len(steps) >= 3]
    whole = toy_prm(incremental=False, cache_mb=0)
    cached = toy_prm(incremental=True, cache_mb=16)
    uncached = toy_prm(incremental=True, cache_mb=0)
    reference = whole.score([ScoreRequest(prompt, steps) for prompt, steps in rows])
    for prm in (cached, uncached):
        got = [[] for _ in rows]
        for depth in range(1, max(len(s) for _, s in rows) + 1):
            todo = [(i, ScoreRequest(p, s[:depth], depth - 1)) for i, (p, s) in enumerate(rows) if len(s) >= depth]
            results = prm.score([r for _, r in todo])
            for (i, request), result in zip(todo, results):
                assert isinstance(result, ScoreResult) and len(result) == 1
                total = prm.count_tokens(request)
                assert result.computed + result.cached == total
                if prm is cached and depth > 1:
                    assert result.cached == prm.count_tokens(ScoreRequest(request.prompt, request.steps[:-1]))
                if prm is uncached:
                    assert result.cached == 0
                got[i] += list(result)
        for mine, theirs in zip(got, reference):
            assert mine == pytest.approx(theirs, abs=1e-5)


def test_policy_prefix_cache_gives_the_same_samples_and_reports_reuse():
    task = load("task", "toy_arith", seed=5, n=6)
    prompts = [p.prompt for p in task.problems()]
    on, off = load("policy", "toy_small", cache_mb=16), load("policy", "toy_small", cache_mb=0)
    first = [GenerationRequest(p, 3, "step", "\n", 32, 1.0, 7 * i) for i, p in enumerate(prompts)]
    a, b = on.generate(first), off.generate(first)
    assert [[s.text for s in r.samples] for r in a] == [[s.text for s in r.samples] for r in b]
    assert all(r.prompt_cached == 0 for r in a)
    children = [
        GenerationRequest(p + r.samples[j].text, 2, "step", "\n", 32, 1.0, 100 + j)
        for p, r in zip(prompts, a)
        for j in range(2)
        if r.samples[j].finish == "step"
    ]
    a, b = on.generate(children), off.generate(children)
    assert [[s.text for s in r.samples] for r in a] == [[s.text for s in r.samples] for r in b]
    for request, mine, theirs in zip(children, a, b):
        assert mine.prompt_cached + mine.prompt_computed == on.count_tokens(request.prompt) == theirs.prompt_computed
        parent = next(p for p in prompts if request.prompt.startswith(p))
        assert mine.prompt_cached == on.count_tokens(parent)


def test_prefix_cache_is_a_bounded_lru():
    def kv(length: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(torch.zeros(2, length, 4), torch.zeros(2, length, 4))]  # 2 tensors * 8 * length * 4 bytes

    cache = PrefixCache(max_mb=3 * 640 / 2**20)  # room for three 10-token entries
    cache.put([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], kv(10))
    cache.put([1, 2, 3, 4, 5, 6, 7, 8, 9, 11], kv(10))
    cache.put([5] * 10, kv(10))
    assert cache.longest([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42], limit=99)[0] == 10  # now the most recent
    cache.put([6] * 10, kv(10))  # evicts [1..9, 11], the least recently used
    assert len(cache) == 3 and cache.bytes == 3 * 640 and cache.peak_bytes <= cache.max_bytes
    assert cache.longest([1, 2, 3, 4, 5, 6, 7, 8, 9, 11], limit=99) == (0, None)
    assert cache.longest([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], limit=9) == (0, None)  # must leave one to run
    assert cache.longest([5] * 12, limit=11)[0] == 10
    cache.put([7] * 40, kv(40))  # larger than the whole cache: not kept
    assert len(cache) == 3
    assert PrefixCache(0).enabled is False


@pytest.mark.parametrize(
    "override, expected",
    [
        ("policy.cache_mb=-1", "policy.cache_mb must be a non-negative number of MiB"),
        ("reward.cache_mb=-5", "reward.cache_mb must be a non-negative number of MiB"),
        ("reward.incremental=maybe", "reward.incremental must be true or false"),
        ("reward.adapter=rlhflow", "reward.incremental=true needs a prefix-stable PRM"),
    ],
)
def test_bad_cache_settings_are_one_line_errors(override, expected):
    with pytest.raises(ValueError, match=expected) as error:
        build(make_config(*TOY, override))
    assert "\n" not in str(error.value)


def test_caches_are_on_by_default():
    cfg = make_config(*TOY)
    assert cfg.reward.incremental is True and cfg.reward.cache_mb > 0 and cfg.policy.cache_mb > 0


def test_an_incremental_reward_must_report_its_cost():
    class Forgetful(RewardModel):
        name, outcome, incremental = "forgetful", False, True

        def __init__(self, real):
            self.spec, self.real = real.spec, real

        def count_tokens(self, request):
            return self.real.count_tokens(request)

        def score(self, requests):
            return [list(r) for r in self.real.score(requests)]

    parts = build(make_config(*TOY, "strategy=rebase", "strategy.n=2"))
    parts.engine.reward = Forgetful(parts.reward)
    with pytest.raises(ValueError, match="did not report its computed tokens"):
        list(parts.engine.run(parts.task.problems()[:1], parts.strategy))


def test_prefix_cache_edges_a_prefix_as_long_as_the_limit_and_nothing_empty_or_disabled():
    def kv(length: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(torch.zeros(1, length, 2), torch.zeros(1, length, 2))]

    cache = PrefixCache(max_mb=1)
    cache.put([1, 2, 3], kv(3))
    assert cache.longest([1, 2, 3, 4], limit=3)[0] == 3  # a stored prefix exactly `limit` long is used
    assert cache.longest([1, 2, 3, 4], limit=2) == (0, None)
    cache.put([], [])
    assert len(cache) == 1  # an empty sequence is never stored
    off = PrefixCache(0)
    off.put([1, 2], [])  # nothing to store, and the cache is off
    off.put([1, 2], kv(2))
    assert len(off) == 0 and off.longest([1, 2, 3], limit=9) == (0, None)


def test_a_rows_keys_after_a_cached_prefix_are_the_full_pass_keys():
    """`forward_with_prefixes` with the first 3 positions from a cache gives the keys, values
    and hidden states of a full pass; `row_kv(row, length)` copies exactly `length` positions."""
    from transformers import Qwen2Config, Qwen2Model

    from infscale.search.prefix_cache import forward_with_prefixes

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=16,
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32,
    )
    model = Qwen2Model(config).eval()
    ids = [3, 1, 4, 1, 5, 9]
    with torch.inference_mode():
        full = forward_with_prefixes(model, [ids], [(0, None)], 0, torch.device("cpu"))
        prefix = full.row_kv(0, 3)
        assert [k.shape[1] for k, _ in prefix] == [3, 3]
        part = forward_with_prefixes(model, [ids, [2, 7]], [(3, prefix), (0, None)], 0, torch.device("cpu"))
    assert torch.allclose(part.output.last_hidden_state[0, -3:], full.output.last_hidden_state[0, 3:], atol=1e-5)
    # columns: 3 past (row 0's cached prefix), then 3 new, each row's new tokens right-aligned; a
    # LongTensor as transformers documents `attention_mask`
    assert part.mask.dtype == torch.long and part.mask.tolist() == [[1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]]
    for length in (4, 6):  # 3 cached + 1 or 3 new positions
        got, want = part.row_kv(0, length), full.row_kv(0, length)
        for (k, v), (k_full, v_full) in zip(got, want):
            assert (
                k.shape[1] == length and torch.allclose(k, k_full, atol=1e-5) and torch.allclose(v, v_full, atol=1e-5)
            )
    short = part.row_kv(1, 2)  # the row without a prefix
    assert [k.shape[1] for k, _ in short] == [2, 2]
