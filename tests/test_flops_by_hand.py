"""FLOPs of a tiny model worked out by hand, term by term, and the ledger's charges with them.

The model: d = 4, 2 layers, 2 heads of size 2 (d_attn = 4), 1 key-value head (d_kv = 2),
a gated MLP of width 6, vocabulary 10, untied embeddings.

Non-embedding parameters N, per layer:
  attention  q: 4*4 = 16, o: 4*4 = 16, k: 4*2 = 8, v: 4*2 = 8   -> 48
  MLP        gate, up, down: 3 * 4*6                            -> 72
  two norms  2 * 4                                              ->  8
                                                                   128 per layer
  2 layers: 256, final norm: 4                                  -> N = 260
Embeddings: 2 * 10 * 4 = 80 (input and output matrices).

Per token (Kaplan): 2N + 2 * n_layer * n_ctx * d_attn = 520 + 16 * n_ctx, where n_ctx counts
the positions the token attends to, itself included.
"""

from types import SimpleNamespace

import pytest

from infscale.budgets.ledger import Ledger, prefill_flops, span_flops
from infscale.budgets.model_spec import ModelSpec
from infscale.search.engine import Outcome
from infscale.search.node import Tree
from infscale.search.ops import Decision
from infscale.search.records import outcome_record
from infscale.tasks.base import Problem, TextTask

TINY = dict(
    hidden_size=4,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=2,
    intermediate_size=6,
    vocab_size=10,
    tie_word_embeddings=False,
    hidden_act="silu",
)


@pytest.fixture
def spec():
    return ModelSpec.from_config(TINY)


def test_parameter_counts(spec):
    assert spec.d_attn == 4
    assert spec.n_nonembed == 260
    assert spec.n_embed == 80
    assert spec.n_params == 340


def test_qkv_biases_and_tied_embeddings_by_hand():
    # Qwen2 has q, k, v biases: 4 + 2 + 2 = 8 per layer -> N = 260 + 2 * 8 = 276;
    # tied embeddings keep one 10 x 4 matrix.
    qwen = ModelSpec.from_config({**TINY, "model_type": "qwen2", "tie_word_embeddings": True})
    assert qwen.n_nonembed == 276
    assert qwen.n_embed == 40
    # an ungated MLP has two matrices: 260 - 4*6 per layer = 212
    assert ModelSpec.from_config({**TINY, "hidden_act": "gelu"}).n_nonembed == 212


def test_per_token_flops_include_the_attention_term(spec):
    assert spec.flops_per_token(0) == 520
    assert spec.flops_per_token(1) == 536  # 520 + 16 * 1
    assert spec.flops_per_token(10) == 680  # 520 + 16 * 10


def test_spans_at_their_real_positions(spec):
    # one token at the start attends to itself: 520 + 16
    assert spec.flops_span(0, 1) == 536
    # a 5-token prompt from scratch: 5 * 520 + 16 * (1+2+3+4+5) = 2600 + 240
    assert spec.flops_span(0, 5) == 2840
    # its last 2 tokens after 3 cached ones attend to 4 and 5 positions: 2 * 520 + 16 * 9
    assert spec.flops_span(3, 2) == 1184
    # 3 generated tokens after that 5-token prompt: positions 6, 7, 8: 3 * 520 + 16 * 21
    assert spec.flops_span(5, 3) == 1896
    assert spec.flops_span(7, 0) == 0


def test_the_ledger_charges_cached_prefixes_at_their_real_positions(spec):
    ledger = Ledger(policy=spec, reward=spec)
    ledger.charge_prompt(computed=2, cached=3)  # a 5-token prompt, 3 tokens from the cache
    ledger.charge_sample(context=5, tokens=3)
    ledger.charge_reward(computed=4, cached=0)  # 4 * 520 + 16 * (1+2+3+4) = 2080 + 160
    ledger.observe_prompt(computed=5, cached=0)  # the backend's cache missed: it ran all 5 (2840)
    ledger.observe_reward(computed=4, cached=0)
    assert (ledger.prompt_computed, ledger.prompt_cached, ledger.generated, ledger.samples) == (2, 3, 3, 1)
    assert ledger.flops_prefill == 1184  # not 2840 (cache ignored), not 1040 + 16 * 3 (positions from 0)
    assert ledger.flops_decode == 1896
    assert ledger.flops_reward == 2240
    assert ledger.flops_total == 1184 + 1896 + 2240
    assert ledger.flops_paper == 2 * 260 * 3
    record = ledger.flops_record()
    assert record == {
        "policy_decode": 1896,
        "policy_prefill": 1184,
        "reward": 2240,
        "paper": 1560,
        "total": 5320,
        "executed": 2840 + 1896 + 2240,  # what ran: the observed prefill, not the charged one
    }
    assert ledger.tokens_record() == {
        "generated": 3,
        "prompt_computed": 2,
        "prompt_cached": 3,
        "reward": 4,
        "reward_cached": 0,
        "recomputed": 3,  # 5 + 4 run, 2 + 4 charged
    }


def test_an_unknown_count_makes_the_total_unknown(spec):
    ledger = Ledger(policy=spec, reward=spec)
    ledger.charge_prompt(computed=2, cached=3)
    ledger.charge_sample(context=5, tokens=None)
    assert ledger.generated is None and ledger.flops_decode is None and ledger.flops_total is None
    assert ledger.flops_paper is None
    ledger.charge_sample(context=5, tokens=3)  # later counts cannot make it known again
    assert ledger.generated is None and ledger.flops_total is None
    assert Ledger(policy=None, reward=spec).flops_paper is None


def test_config_keys_that_change_the_count():
    # an explicit head size (not hidden / heads): d_attn = 2 * 3 = 6, d_kv = 3;
    # per layer q, o: 2 * 4*6 = 48, k, v: 2 * 4*3 = 24, MLP 72, norms 8 -> 152; N = 2 * 152 + 4
    wide = ModelSpec.from_config({**TINY, "head_dim": 3})
    assert (wide.d_attn, wide.n_nonembed) == (6, 308)
    # GPT-2 names; n_inner sets the MLP width (else 4 * d): 2 * (4*4*4 + 2*4*5 + 2*4) + 4 = 228
    gpt2 = {"n_embd": 4, "n_layer": 2, "n_head": 2, "vocab_size": 10, "activation_function": "gelu_new"}
    assert ModelSpec.from_config({**gpt2, "n_inner": 5}).n_nonembed == 2 * (64 + 40 + 8) + 4
    assert ModelSpec.from_config(gpt2).n_nonembed == 2 * (64 + 2 * 4 * 16 + 8) + 4


@pytest.mark.parametrize("mlp_type", ["gated", "SwiGLU", "geglu", "glu"])
def test_mlp_type_names_a_gated_mlp_whatever_the_activation(mlp_type):
    assert ModelSpec.from_config({**TINY, "hidden_act": "gelu", "mlp_type": mlp_type}).gated_mlp


def test_mlp_type_overrides_a_gated_activation():
    assert not ModelSpec.from_config({**TINY, "hidden_act": "silu", "mlp_type": "plain"}).gated_mlp
    assert ModelSpec.from_config({**TINY, "hidden_act": "silu"}).gated_mlp


def test_to_dict_carries_the_counts(spec):
    record = spec.to_dict()
    assert (record["n_nonembed"], record["n_params"], record["hidden_size"]) == (260, 340, 4)
    assert record["num_key_value_heads"] == 1 and record["gated_mlp"] is True


def test_missing_counts_or_models_give_no_flops(spec):
    assert span_flops(None, 5, 3) is None
    assert span_flops(spec, None, 3) is None
    assert span_flops(spec, 5, None) is None
    assert span_flops(spec, 5, 3) == 1896
    assert prefill_flops(None, 2, 3) is None
    assert prefill_flops(spec, None, 3) is None
    assert prefill_flops(spec, 2, None) is None
    assert prefill_flops(spec, 2, 3) == 1184


def test_every_config_form_reads_the_same_numbers(spec):
    class OnlyToDict:  # a config object whose numbers are reachable only through to_dict()
        def to_dict(self):
            return dict(TINY)

    assert ModelSpec.from_config(SimpleNamespace(**TINY)) == spec
    assert ModelSpec.from_config(OnlyToDict()) == spec
    # no tie_word_embeddings key: untied; GPT-2's activation_function names a gated MLP too
    untied = {k: v for k, v in TINY.items() if k != "tie_word_embeddings"}
    assert ModelSpec.from_config(untied).n_embed == 80
    gpt = {k: v for k, v in TINY.items() if k != "hidden_act"}
    assert ModelSpec.from_config({**gpt, "activation_function": "silu"}).gated_mlp
    assert not ModelSpec.from_config(gpt).gated_mlp  # neither key: GELU, ungated


def test_attention_bias_adds_the_qkv_biases():
    # q, k, v biases: 4 + 2 + 2 per layer -> 260 + 16
    assert ModelSpec.from_config({**TINY, "attention_bias": True}).n_nonembed == 276
    assert ModelSpec.from_config({**TINY, "attention_bias": False}).n_nonembed == 260


def test_a_results_record_gives_each_candidate_its_own_cost_by_hand(spec):
    """`results.jsonl`'s record of a hand-built outcome: every field, and each candidate's own
    context, tokens and FLOPs (the subsampled curves sum these), with the numbers above."""
    problem = Problem(id="p-1", prompt="Q:", reference="7", level=2)
    tree = Tree(problem)
    step = tree.add_child(tree.root, text="a\n", tokens=2, context=3, finish="step")
    scored = tree.add_child(step, text="= 7", tokens=3, context=5, finish="end", answer="7", step_scores=[0.5, 0.25])
    scored.reward_tokens, scored.reward_cached = 2, 3
    # unscored (a score the budget cut): whatever its reward fields hold, it read nothing
    unscored = tree.add_child(tree.root, text="8", tokens=1, context=0, finish="end", answer="8")
    unscored.reward_tokens, unscored.reward_cached = 4, 1
    ledger = Ledger(policy=spec, reward=spec)
    ledger.charge_prompt(computed=2, cached=3)
    ledger.charge_sample(context=5, tokens=3)
    ledger.charge_reward(computed=2, cached=3)
    ledger.observe_prompt(computed=2, cached=3)  # the backend's cache held what the model reuses
    ledger.observe_reward(computed=2, cached=3)
    outcome = Outcome(problem, Decision("7", [scored, unscored], scored), ledger, tree, wall_s=0.12345678)
    record = outcome_record(outcome, TextTask(), {"strategy": "by-hand", "n": 2}, "min")
    assert record == {
        "problem_id": "p-1",
        "strategy": "by-hand",
        "n": 2,
        "level": 2,
        "answer": "7",
        "reference": "7",
        "correct": True,
        "n_finished": 2,
        "candidates": [
            {
                "answer": "7",
                "score": 0.25,  # min of its step scores
                "step_scores": [0.5, 0.25],
                "tokens": 5,  # the path's: 2 + 3
                "context": 5,
                "own_tokens": 3,
                "reward_tokens": 2,
                "reward_cached": 3,
                "flops": {"decode": 1896, "reward": 1184},  # 3 tokens after 5; 2 after 3 cached
            },
            {
                "answer": "8",
                "score": None,
                "step_scores": None,
                "tokens": 1,
                "context": 0,
                "own_tokens": 1,
                "reward_tokens": 0,
                "reward_cached": 0,
                "flops": {"decode": 536, "reward": 0.0},
            },
        ],
        "samples": 1,
        "tokens": {
            "generated": 3,
            "prompt_computed": 2,
            "prompt_cached": 3,
            "reward": 2,
            "reward_cached": 3,
            "recomputed": 0,
        },
        "flops": {
            "policy_decode": 1896,
            "policy_prefill": 1184,
            "reward": 1184,
            "paper": 2 * 260 * 3,
            "total": 4264,
            "executed": 4264,
        },
        "wall_s": 0.123457,
    }
    wrong = outcome_record(
        Outcome(problem, Decision("8", [unscored], unscored), ledger, tree, 0.0), TextTask(), {}, "last"
    )
    assert (wrong["answer"], wrong["correct"], wrong["n_finished"]) == ("8", False, 1)
