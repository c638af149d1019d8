import pytest
from transformers import LlamaConfig

from infscale.budgets.model_spec import ModelSpec

LLAMA2_7B = dict(
    hidden_size=4096,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=32,
    intermediate_size=11008,
    vocab_size=32000,
    tie_word_embeddings=False,
    hidden_act="silu",
)


def test_llama2_7b_nonembedding_parameters_match_kaplan_count():
    spec = ModelSpec.from_config(LLAMA2_7B)
    assert spec.n_nonembed == pytest.approx(6.48e9, rel=0.01)
    assert spec.n_params == pytest.approx(6.74e9, rel=0.01)


def test_transformers_config_object_gives_the_same_spec():
    assert ModelSpec.from_config(LlamaConfig(**LLAMA2_7B)) == ModelSpec.from_config(LLAMA2_7B)


def test_grouped_query_attention_shrinks_kv_projections():
    full = ModelSpec.from_config(LLAMA2_7B)
    gqa = ModelSpec.from_config({**LLAMA2_7B, "num_key_value_heads": 8})
    assert full.n_nonembed - gqa.n_nonembed == 32 * 2 * 4096 * (4096 - 1024)


def test_ungated_mlp_has_two_matrices():
    gpt2 = ModelSpec.from_config(
        {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "activation_function": "gelu_new"}
    )
    assert not gpt2.gated_mlp
    assert gpt2.n_nonembed == 12 * (4 * 768 * 768 + 2 * 768 * 3072 + 2 * 768) + 768


def test_flops_span_is_the_sum_of_per_token_flops():
    spec = ModelSpec.from_config(LLAMA2_7B)
    start, count = 37, 19
    expected = sum(spec.flops_per_token(start + i) for i in range(1, count + 1))
    assert spec.flops_span(start, count) == pytest.approx(expected, rel=1e-12)
    assert spec.flops_per_token(0) == 2 * spec.n_nonembed


def test_missing_key_is_named():
    with pytest.raises(ValueError, match="num_hidden_layers"):
        ModelSpec.from_config({"hidden_size": 8, "num_attention_heads": 2, "vocab_size": 10})


def test_toy_prm_count_matches_its_weights():
    import json

    from safetensors.torch import load_file

    from infscale.experiments.app.resolvers import package_path

    folder = package_path("tasks/toy_checkpoints/toy_prm")
    config = json.load(open(f"{folder}/config.json"))
    weights = load_file(f"{folder}/model.safetensors")
    embedding = sum(t.numel() for name, t in weights.items() if "embed_tokens" in name)
    spec = ModelSpec.from_config(config)
    assert spec.n_nonembed == sum(t.numel() for t in weights.values()) - embedding
