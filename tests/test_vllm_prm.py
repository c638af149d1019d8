"""reward=vllm_prm against reward=hf_prm on the same trajectories: tiny random checkpoints of
each PRM family vLLM can pool (the real families' tokenizers and special tokens, as in
test_prm_adapters) and the committed toy PRM; per-step scores agree to < 1e-3 in float32."""

import pytest
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config

from infscale.experiments.app.build import load
from infscale.experiments.app.resolvers import package_path
from infscale.rewards.qwen2_prm import Qwen2ForProcessRewardModel
from infscale.search.backends import ScoreRequest
from tests.test_prm_adapters import LLAMA3_TEMPLATE, QUESTION, QWEN_TEMPLATE, STEPS, tokenizer
from tests.vllm_helpers import CPU_ENGINE, release, tiny_causal_lm, toy_arith_paths

pytestmark = pytest.mark.vllm
TOLERANCE = 1e-3
FAMILIES = {
    "qwen": (
        Qwen2ForProcessRewardModel,
        Qwen2Config,
        lambda: tokenizer(
            ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<extra_0>"], eos="<|endoftext|>", template=QWEN_TEMPLATE
        ),
    ),
    "toy": (Qwen2ForProcessRewardModel, Qwen2Config, lambda: tokenizer(["<pad>", "<s>", "</s>"], eos="</s>")),
    "math_shepherd": (
        MistralForCausalLM,
        MistralConfig,
        lambda: tokenizer(["<unk>", "<s>", "</s>"], added=["ки"], bos="<s>", eos="</s>"),
    ),
    "rlhflow": (
        LlamaForCausalLM,
        LlamaConfig,
        lambda: tokenizer(
            ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
            eos="<|eot_id|>",
            template=LLAMA3_TEMPLATE,
        ),
    ),
}
REQUESTS = [
    ScoreRequest(QUESTION, STEPS),
    ScoreRequest(QUESTION, STEPS[:1]),
    ScoreRequest(QUESTION, ()),
    ScoreRequest("What is 2 + 2?", ("2 + 2 = 4.\n\n", "", "The answer is \\boxed{4}.")),
]


def vllm_scores(path, adapter, requests, **extra):

    prm = load("reward", "vllm_prm", path=str(path), adapter=adapter, **{"incremental": False, **CPU_ENGINE, **extra})
    try:
        return prm.score(requests), [prm.count_tokens(r) for r in requests]
    finally:
        release(prm)


def max_difference(a, b):
    assert [len(x) for x in a] == [len(x) for x in b]
    return max(abs(x - y) for xs, ys in zip(a, b) for x, y in zip(xs, ys))


@pytest.mark.parametrize("adapter", sorted(FAMILIES))
def test_scores_equal_transformers_prm(adapter, tmp_path):
    model_cls, config_cls, make_tokenizer = FAMILIES[adapter]
    path = tiny_causal_lm(tmp_path, make_tokenizer(), config_cls=config_cls, model_cls=model_cls)
    reference = load("reward", "hf_prm", path=str(path), adapter=adapter, incremental=False, cache_mb=0)
    expected = reference.score(REQUESTS)
    got, tokens = vllm_scores(path, adapter, REQUESTS)
    assert [len(s) for s in got] == [len(r.steps) for r in REQUESTS]
    assert max_difference(got, expected) < TOLERANCE
    assert len({round(x, 4) for s in got for x in s}) > 3  # distinct scores: positions really differ
    assert tokens == [reference.count_tokens(r) for r in REQUESTS]


@pytest.mark.slow
def test_toy_prm_checkpoint_scores_equal_transformers_on_right_and_wrong_solutions():
    path = package_path("tasks/toy_checkpoints/toy_prm")
    requests = toy_arith_paths()
    tokenizer = package_path("tasks/toy_checkpoints/tokenizer")
    expected = load("reward", "hf_prm", path=path, adapter="toy", tokenizer=tokenizer).score(requests)
    got, _ = vllm_scores(path, "toy", requests, tokenizer=tokenizer)
    assert sum(len(s) for s in got) > 50
    assert max_difference(got, expected) < TOLERANCE


@pytest.mark.slow
def test_incremental_scoring_reads_the_prefix_cache_and_charges_only_computed_tokens():
    """Parents, then their children asking only for the new step: vLLM serves the parent's
    whole blocks from its prefix cache, the new step's score equals a whole-path pass."""
    task = load("task", "toy_arith", seed=2, n=16)
    path = package_path("tasks/toy_checkpoints/toy_prm")
    tokenizer = package_path("tasks/toy_checkpoints/tokenizer")
    paths = [(p.prompt, tuple(task.split_steps(task.solution(p)))) for p in task.problems()]
    paths = [(prompt, steps) for prompt, steps in paths if len(steps) >= 3]
    whole = [ScoreRequest(prompt, steps) for prompt, steps in paths]
    expected = load("reward", "hf_prm", path=path, adapter="toy", tokenizer=tokenizer, cache_mb=0).score(whole)
    prm = load(
        "reward",
        "vllm_prm",
        path=path,
        adapter="toy",
        tokenizer=tokenizer,
        **{**CPU_ENGINE, "incremental": True, "enable_prefix_caching": True},
    )
    try:
        parents = prm.score([ScoreRequest(p, s[:-1]) for p, s in paths])
        children = prm.score([ScoreRequest(p, s, len(s) - 1) for p, s in paths])
    finally:
        release(prm)
    block = CPU_ENGINE["block_size"]
    for (prompt, steps), parent, child, reference in zip(paths, parents, children, expected):
        assert list(parent) + list(child) == pytest.approx(reference, abs=TOLERANCE)
        assert len(child) == 1 and child.cached % block == 0
        assert child.computed + child.cached == prm.count_tokens(ScoreRequest(prompt, steps))
        # the parent's whole blocks were reused
        assert child.cached == prm.count_tokens(ScoreRequest(prompt, steps[:-1])) // block * block
    assert sum(c.cached for c in children) > 0


def test_adapters_vllm_cannot_pool_are_refused(tmp_path):

    with pytest.raises(ValueError, match="skywork.*hf_prm"):
        load("reward", "vllm_prm", path=str(tmp_path), adapter="skywork")
    with pytest.raises(ValueError, match="unknown reward.adapter"):
        load("reward", "vllm_prm", path=str(tmp_path), adapter="nope")
    with pytest.raises(ValueError, match="reward.incremental=true needs a prefix-stable PRM"):
        load("reward", "vllm_prm", path=str(tmp_path), adapter="rlhflow", incremental=True)
