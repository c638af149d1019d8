"""policy=vllm on vLLM's CPU build with a tiny random Llama and the toy character tokenizer:
greedy text equals transformers' (policy=hf), per-sample seeds make samples independent of
the call they are in, stop strings are kept, token counts are exact, and prefix-cache hits
are read from vLLM into `prompt_cached` in whole blocks."""

from collections import Counter

import pytest

from infscale.experiments.app.build import load
from infscale.search.backends import GenerationRequest
from infscale.tasks.toy_tokenizer import save_char_tokenizer
from tests.vllm_helpers import CPU_ENGINE, release, tiny_causal_lm

pytestmark = pytest.mark.vllm
BLOCK = CPU_ENGINE["block_size"]
PROMPTS = ["16 *3 +6\n", "89 +10 -14 -13\n", "85 +17 -31 +11 -21\n16 *3 = 48\n48 +6 = 54\n"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_causal_lm(tmp_path_factory.mktemp("tiny_llama"), save_char_tokenizer(tmp_path_factory.mktemp("tok")))


@pytest.fixture(scope="module")
def policy(checkpoint):

    built = load("policy", "vllm", path=str(checkpoint), name="tiny", skip_special_tokens=False, **CPU_ENGINE)
    yield built
    release(built)


def request(prompt, n=4, until="end", stop="\n", max_tokens=24, temperature=1.0, seed=7):
    return GenerationRequest(prompt, n, until, stop, max_tokens, temperature, seed)


def test_greedy_text_and_token_counts_equal_transformers(policy, checkpoint):

    hf = load("policy", "hf", path=str(checkpoint))
    requests = [request(p, n=1, temperature=0.0, max_tokens=40) for p in PROMPTS]
    ours, theirs = policy.generate(requests), hf.generate(requests)
    assert [r.samples for r in ours] == [r.samples for r in theirs]
    assert [r.prompt_computed + r.prompt_cached for r in ours] == [hf.count_tokens(p) for p in PROMPTS]


def test_sample_j_uses_seed_plus_j_whatever_else_is_in_the_call(policy):
    together = policy.generate([request(PROMPTS[0], n=4, seed=100), request(PROMPTS[1], n=3, seed=5)])
    alone = policy.generate([request(PROMPTS[0], n=1, seed=100 + j) for j in range(4)])
    assert together[0].samples == [r.samples[0] for r in alone]
    again = policy.generate([request(PROMPTS[2], n=2, seed=1), request(PROMPTS[1], n=3, seed=5)])
    assert again[1].samples == together[1].samples
    assert len({s.text for s in together[0].samples}) > 1


def test_steps_end_at_the_stop_string_which_is_kept(policy):
    # a random model rarely writes "\n": stop at the character it writes most instead
    free = policy.generate([request(p, n=8, max_tokens=32) for p in PROMPTS])
    common = Counter("".join(s.text for r in free for s in r.samples)).most_common(1)[0][0]
    results = policy.generate([request(p, n=8, until="step", stop=common, max_tokens=32) for p in PROMPTS])
    samples = [s for r in results for s in r.samples]
    finishes = Counter(s.finish for s in samples)
    assert finishes["step"] >= len(samples) // 2
    for s in samples:
        assert s.tokens == len(policy.encode(s.text))
        if s.finish == "step":
            assert s.text.endswith(common) and s.text.count(common) == 1
        elif s.finish == "length":
            assert s.tokens == 32 and common not in s.text
        else:
            assert s.finish == "end" and common not in s.text


def test_prefix_cache_hits_are_counted_in_whole_blocks(policy):
    prompt = "Cache probe 7 +5 *2\n" * 4  # 80 tokens: two full blocks
    length = policy.count_tokens(prompt)
    first = policy.generate([request(prompt, n=3, seed=11)])[0]
    assert (first.prompt_computed, first.prompt_cached) == (length, 0)
    second = policy.generate([request(prompt, n=3, seed=12)])[0]
    assert second.prompt_cached == (length // BLOCK) * BLOCK and second.prompt_computed == length - second.prompt_cached
    child = prompt + second.samples[0].text
    third = policy.generate([request(child, n=2, seed=13)])[0]
    assert third.prompt_cached >= second.prompt_cached and third.prompt_cached % BLOCK == 0
    assert third.prompt_computed + third.prompt_cached == policy.count_tokens(child)


def test_zero_samples_and_bad_requests(policy):
    empty = policy.generate([request(PROMPTS[0], n=0), request(PROMPTS[0], n=2, max_tokens=0)])
    assert empty[0].samples == [] and [s.tokens for s in empty[1].samples] == [0, 0]
    with pytest.raises(ValueError, match="n=-1"):
        policy.generate([request(PROMPTS[0], n=-1)])
    with pytest.raises(ValueError, match="until"):
        policy.generate([request(PROMPTS[0], until="line")])
    with pytest.raises(ValueError, match="max_model_len"):
        policy.generate([request("9" * 600)])


def test_bad_config_names_the_key(tmp_path):

    with pytest.raises(ValueError, match="does not exist"):
        load("policy", "vllm", path=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="dtype"):
        load("policy", "vllm", path=str(tmp_path), dtype="int3")
    with pytest.raises(ValueError, match="gpu_memory_utilization"):
        load("policy", "vllm", path=str(tmp_path), gpu_memory_utilization=1.5)
