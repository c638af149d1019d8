"""PRM adapters on tiny randomly initialised models with the real families' special tokens
and architecture classes: scores come from exactly the step-tag positions, k steps give k
scores (empty and over-long steps too), batching changes nothing, and each format matches
the family's reference recipe computed independently here."""

import warnings

import pytest
import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

from infscale.budgets.model_spec import ModelSpec
from infscale.experiments.app.build import load
from infscale.rewards.prm_adapters import ADAPTERS, adapter_class
from infscale.rewards.prm_adapters.skywork import Qwen2ForPrmModel
from infscale.rewards.qwen2_prm import Qwen2ForProcessRewardModel
from infscale.search.backends import ScoreRequest
from infscale.tasks.prompts import QWEN_SYSTEM

CORPUS = [
    "Janet has 16 eggs. She eats 3 and sells the rest for $2 each, so she makes 26 dollars.",
    "Step 1: 16 - 3 = 13. Step 2: 13 * 2 = 26. The answer is: 26",
    "Let x^2 + 2x = \\frac{1}{2}; then \\boxed{26} + - user assistant system",
]
QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAMA3_TEMPLATE = (
    "<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
QUESTION = "Janet has 16 eggs and eats 3. How many are left?"
STEPS = ("She starts with 16 eggs.\n\n", "16 - 3 = 13.\n\n", "The answer is \\boxed{13}.")


def tokenizer(special, added=(), bos=None, eos=None, template=None):
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=list(special), initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(CORPUS * 4, trainer)
    backend.add_tokens([AddedToken(t, normalized=False) for t in added])
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=bos, eos_token=eos, pad_token=eos)
    if bos:
        from tokenizers.processors import TemplateProcessing

        tok.backend_tokenizer.post_processor = TemplateProcessing(
            single=f"{bos} $A", special_tokens=[(bos, tok.convert_tokens_to_ids(bos))]
        )
    tok.chat_template = template
    return tok


def tiny(cls, config_cls, tok, **extra):
    torch.manual_seed(0)
    config = config_cls(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tok.pad_token_id,
        **extra,
    )
    model = cls(config)
    with torch.no_grad():  # random heads large enough that scores differ visibly
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """adapter -> (checkpoint dir, model, tokenizer)."""
    made = {}
    qwen_tok = tokenizer(
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<extra_0>"], eos="<|endoftext|>", template=QWEN_TEMPLATE
    )
    shepherd_tok = tokenizer(["<unk>", "<s>", "</s>"], added=["ки"], bos="<s>", eos="</s>")
    llama_tok = tokenizer(
        ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        eos="<|eot_id|>",
        template=LLAMA3_TEMPLATE,
    )
    toy_tok = tokenizer(["<pad>", "<s>", "</s>"], eos="</s>")
    sky_tok = tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], bos="<|endoftext|>", eos="<|endoftext|>")
    sky_tok.backend_tokenizer.post_processor = None
    specs = {
        "qwen": (Qwen2ForProcessRewardModel, Qwen2Config, qwen_tok, {}),
        "toy": (Qwen2ForProcessRewardModel, Qwen2Config, toy_tok, {}),
        "math_shepherd": (MistralForCausalLM, MistralConfig, shepherd_tok, {}),
        "rlhflow": (LlamaForCausalLM, LlamaConfig, llama_tok, {}),
        "skywork": (Qwen2ForPrmModel, Qwen2Config, sky_tok, {}),
    }
    for name, (cls, config_cls, tok, extra) in specs.items():
        model = tiny(cls, config_cls, tok, **extra).eval()
        folder = tmp_path_factory.mktemp(name)
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
        # transformers picks the tokenizer class from the model type (e.g. Qwen2Tokenizer),
        # so the reference recipes use the tokenizer as it loads from the checkpoint.
        made[name] = (str(folder), model, AutoTokenizer.from_pretrained(folder))
    return made


def prm(checkpoints, name, **kwargs):
    # whole paths only here (rlhflow is not prefix-stable): no incremental scoring, no KV cache
    return load(
        "reward", "hf_prm", path=checkpoints[name][0], adapter=name, **{"incremental": False, "cache_mb": 0, **kwargs}
    )


def reference_scores(name, model, tok):
    """Each family's published recipe, written out independently of the adapters."""
    steps = [s.strip() for s in STEPS]
    with torch.no_grad():
        if name == "qwen":
            messages = [
                {"role": "system", "content": QWEN_SYSTEM},
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"},
            ]
            ids = tok.encode(
                tok.apply_chat_template(messages, tokenize=False), add_special_tokens=False, return_tensors="pt"
            )
            probs = torch.softmax(model(input_ids=ids).logits[0], -1)[:, 1]
            return probs[ids[0] == tok.convert_tokens_to_ids("<extra_0>")].tolist()
        if name == "toy":
            ids = tok.encode(
                QUESTION + "".join(s.rstrip("\n") + "\n" for s in STEPS), add_special_tokens=False, return_tensors="pt"
            )
            probs = torch.softmax(model(input_ids=ids).logits[0], -1)[:, 1]
            return probs[ids[0] == tok.convert_tokens_to_ids("Ċ")].tolist()
        if name == "math_shepherd":
            output = "\n".join(f"Step {k}: {s} ки" for k, s in enumerate(steps, 1))
            ids = tok.encode(f"{QUESTION} {output}", return_tensors="pt")
            plus, minus = tok.convert_tokens_to_ids("+"), tok.convert_tokens_to_ids("-")
            probs = torch.softmax(model(ids).logits[0][:, [plus, minus]], -1)[:, 0]
            return probs[ids[0] == tok.convert_tokens_to_ids("ки")].tolist()
        if name == "rlhflow":
            plus, minus = tok.convert_tokens_to_ids("+"), tok.convert_tokens_to_ids("-")
            conversation, out = [], []
            for k, step in enumerate(steps):  # the model card's loop: one pass per step, logits[:, -3]
                conversation += [
                    {"role": "user", "content": f"{QUESTION} {step}" if k == 0 else step},
                    {"role": "assistant", "content": "+"},
                ]
                ids = tok.encode(
                    tok.apply_chat_template(conversation, tokenize=False), add_special_tokens=False, return_tensors="pt"
                )
                out.append(torch.softmax(model(ids).logits[0, -3, [plus, minus]], -1)[0].item())
            return out
        if name == "skywork":  # Skywork's prepare_input: steps split on "\n", encoded one by one
            response = "\n".join(steps)
            ids, flags = tok.encode(tok.bos_token + QUESTION + "\n"), []
            flags = [0] * len(ids)
            for step in response.split("\n"):
                step_ids = (tok.encode(step) if step else []) + [tok.encode("\n")[-1]]
                ids += step_ids
                flags += [0] * (len(step_ids) - 1) + [1]
            values = torch.sigmoid(model(torch.tensor([ids])))[0]
            return values[torch.tensor(flags) == 1].tolist()
    raise AssertionError(name)


def test_registry_and_bad_names():
    assert sorted(ADAPTERS) == ["math_shepherd", "qwen", "rlhflow", "skywork", "toy"]
    with pytest.raises(ValueError, match="unknown reward.adapter 'qwen2'"):
        adapter_class("qwen2")


@pytest.mark.parametrize("name", ["qwen", "toy", "math_shepherd", "rlhflow", "skywork"])
def test_scores_match_the_family_recipe(checkpoints, name):
    folder, model, tok = checkpoints[name]
    reward = prm(checkpoints, name)
    got = reward.score([ScoreRequest(QUESTION, STEPS)])[0]
    expected = reference_scores(name, model, tok)
    assert len(got) == len(STEPS) == len(expected)
    assert got == pytest.approx(expected, abs=1e-5)
    assert all(0.0 <= s <= 1.0 for s in got) and len({round(s, 6) for s in got}) > 1
    assert reward.spec == ModelSpec.from_config(model.config)
    assert reward.count_tokens(ScoreRequest(QUESTION, STEPS)) == len(reward.encode(ScoreRequest(QUESTION, STEPS)).ids)
    assert reward.checkpoint_hash is not None


@pytest.mark.parametrize("name", ["qwen", "toy", "math_shepherd", "rlhflow", "skywork"])
def test_scores_read_at_the_tags_only(checkpoints, name):
    """Changing step j moves scores j.. and leaves earlier scores; text after the last tag
    is never read; tag tokens are exactly at the read positions."""
    reward = prm(checkpoints, name)
    base = reward.score([ScoreRequest(QUESTION, STEPS)])[0]
    changed = reward.score([ScoreRequest(QUESTION, (STEPS[0], "16 - 3 = 12.\n\n", STEPS[2]))])[0]
    assert changed[0] == pytest.approx(base[0], abs=1e-6)
    assert changed[1] != pytest.approx(base[1], abs=1e-6)
    encoding = reward.encode(ScoreRequest(QUESTION, STEPS))
    offset = reward.adapter.read_offset()
    tags = {encoding.ids[p - offset] for p in encoding.positions}
    assert len(tags) == 1 and len(encoding.positions) == 3
    assert sorted(encoding.positions) == list(encoding.positions)


@pytest.mark.parametrize("name", ["qwen", "toy", "math_shepherd", "rlhflow", "skywork"])
def test_empty_steps_and_batching(checkpoints, name):
    reward = prm(checkpoints, name, batch_size=2)
    requests = [
        ScoreRequest(QUESTION, ("", "16 - 3 = 13.\n\n", "")),
        ScoreRequest(QUESTION, STEPS),
        ScoreRequest(QUESTION, ("one step only",)),
        ScoreRequest(QUESTION, ()),
    ]
    together = reward.score(requests)
    assert [len(s) for s in together] == [3, 3, 1, 0]
    alone = [reward.score([r])[0] for r in requests]
    for a, b in zip(together, alone):
        assert a == pytest.approx(b, abs=1e-5)


@pytest.mark.parametrize("name", ["qwen", "toy", "math_shepherd", "rlhflow", "skywork"])
def test_long_steps_are_truncated_with_a_warning_keeping_every_tag(checkpoints, name):
    reward = prm(checkpoints, name, max_length=200)
    long_step = "Janet sells the rest for $2 each. " * 40
    request = ScoreRequest(QUESTION, (STEPS[0], long_step, STEPS[1], STEPS[2]))
    with pytest.warns(UserWarning, match="truncated"):
        scores = reward.score([request])[0]
    encoding = reward.encode(request)
    assert len(scores) == 4 and len(encoding.ids) <= 200 and encoding.truncated
    offset = reward.adapter.read_offset()
    assert len({encoding.ids[p - offset] for p in encoding.positions}) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        short = reward.score([ScoreRequest(QUESTION, STEPS)])[0]
    assert short == pytest.approx(reward.score([ScoreRequest(QUESTION, STEPS)])[0])
    with pytest.raises(ValueError, match="even with empty steps"):
        prm(checkpoints, name, max_length=20).score([ScoreRequest("", ("a",) * 30)])


@pytest.mark.data("math500")
def test_task_prompt_is_mapped_back_to_the_question(checkpoints):

    task = load("task", "math500")
    problem = task.problems()[0]
    with_task = prm(checkpoints, "qwen", task=task)
    plain = prm(checkpoints, "qwen")
    assert with_task.score([ScoreRequest(problem.prompt, STEPS)]) == plain.score(
        [ScoreRequest(problem.meta["question"], STEPS)]
    )


def test_bad_config(checkpoints):
    with pytest.raises(ValueError, match="reward.path"):
        load("reward", "hf_prm", adapter="qwen", path="")
    with pytest.raises(ValueError, match="reward.dtype"):
        load("reward", "hf_prm", path=checkpoints["qwen"][0], adapter="qwen", dtype="fp8")
    with pytest.raises(ValueError, match="unknown reward.adapter"):
        load("reward", "hf_prm", path=checkpoints["qwen"][0], adapter="nope")
