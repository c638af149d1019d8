"""The committed toy checkpoints through the hf policy backend and the hf_prm backend."""

from pathlib import Path

import pytest

from infscale.experiments.app.build import load
from infscale.experiments.app.resolvers import package_path
from infscale.policies.hf import HFPolicy
from infscale.policies.task_prompts import TaskPrompts
from infscale.search.backends import GenerationRequest
from infscale.tasks.toy_arith import ToyArithTask

# Greedy answer accuracy on 60 level-1 problems; random weights score about 0.01 (1 answer
# in 100). eval_toy measured 0.98 (toy_small) and 0.94 (toy_large) on 50 of them.
GREEDY_FLOOR_LEVEL_1 = {"toy_small": 0.85, "toy_large": 0.85}
PRM_AUC_FLOOR = 0.80


def checkpoint(name: str) -> str:
    return package_path(f"tasks/toy_checkpoints/{name}")


@pytest.fixture(scope="module")
def small() -> HFPolicy:
    return load("policy", "hf", path=checkpoint("toy_small"), threads=2, cache_mb=0)


@pytest.fixture(scope="module")
def task() -> ToyArithTask:
    return load("task", "toy_arith", seed=0, n=40)


def greedy_accuracy(policy: HFPolicy, level: int, n: int) -> float:
    task = load("task", "toy_arith", seed=0, level=level, n=n)
    problems = task.problems()
    results = policy.generate([GenerationRequest(p.prompt, 1, "end", "\n", 128, 0.0, 0) for p in problems])
    return (
        sum(task.is_correct(task.extract_answer(r.samples[0].text), p.reference) for p, r in zip(problems, results)) / n
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["toy_small", "toy_large"])
def test_trained_policy_greedy_accuracy_on_easy_problems(name):
    policy = load("policy", "hf", path=checkpoint(name), threads=2, cache_mb=0)
    accuracy = greedy_accuracy(policy, level=1, n=60)
    print(name, "greedy level-1 accuracy", accuracy)
    assert accuracy >= GREEDY_FLOOR_LEVEL_1[name]


@pytest.mark.parametrize("name", ["tokenizer", "toy_small", pytest.param("toy_large", marks=pytest.mark.slow)])
def test_shipped_tokenizers_round_trip_generated_text(name, small, task):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint(name))
    results = small.generate([GenerationRequest(p.prompt, 2, "end", "\n", 64, 1.0, 3) for p in task.problems()[:6]])
    for p, r in zip(task.problems(), results):
        for s in r.samples:
            text = p.prompt + s.text
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert len(ids) == len(text) and tokenizer.decode(ids) == text


def test_spec_counts_the_checkpoint_parameters(small):
    assert small.spec.n_params == sum(p.numel() for p in small.model.parameters())
    assert small.spec.head_dim >= 32 and small.spec.gated_mlp


@pytest.mark.slow
def test_token_counts_equal_the_tokenizer_count_of_the_text(small, task):
    problems = task.problems()[:8]
    requests = [
        GenerationRequest(p.prompt, 3, until, "\n", 40, 1.0, 5 + i)
        for i, p in enumerate(problems)
        for until in ("step", "end")
    ]
    results = small.generate(requests)
    for request, result in zip(requests, results):
        assert result.prompt_computed == small.count_tokens(request.prompt) and result.prompt_cached == 0
        for s in result.samples:
            assert (
                s.tokens
                == small.count_tokens(s.text)
                == len(small.tokenizer(s.text, add_special_tokens=False)["input_ids"])
            )
            if s.finish == "step":
                assert request.until == "step" and s.text.endswith("\n") and s.text.count("\n") == 1
            if request.until == "end" and s.finish == "end":
                assert "answer:" in s.text


@pytest.mark.slow
def test_sampling_does_not_depend_on_batch_composition(small, task):
    problems = task.problems()
    target = GenerationRequest(problems[7].prompt + "", 4, "end", "\n", 64, 1.0, 1234)
    alone = small.generate([target])[0]
    others = [GenerationRequest(p.prompt, 3, "step", "\n", 32, 1.0, i) for i, p in enumerate(problems[:6])]
    mixed = small.generate(others[:3] + [target] + others[3:])[3]
    assert mixed.samples == alone.samples
    small.max_batch, saved = 5, small.max_batch
    try:
        split = small.generate(others + [target])[-1]
    finally:
        small.max_batch = saved
    assert split.samples == alone.samples
    assert len({s.text for s in alone.samples}) > 1  # different seeds, different samples


@pytest.mark.slow
def test_greedy_ignores_the_seed_and_length_limit_is_exact(small, task):
    p = task.problems()[1]
    a = small.generate([GenerationRequest(p.prompt, 2, "end", "\n", 128, 0.0, 1)])[0].samples
    b = small.generate([GenerationRequest(p.prompt, 1, "end", "\n", 128, 0.0, 99)])[0].samples
    assert a[0] == a[1] == b[0] and a[0].finish == "end"
    cut = small.generate([GenerationRequest(p.prompt, 2, "end", "\n", 3, 1.0, 1)])[0].samples
    assert all(s.finish == "length" and s.tokens == 3 for s in cut)
    empty = small.generate([GenerationRequest(p.prompt, 2, "end", "\n", 0, 1.0, 1)])[0]
    assert [s.tokens for s in empty.samples] == [0, 0] and empty.prompt_computed == 0


def test_chat_template_wraps_only_the_problem(small, task):
    p = task.problems()[0]
    small.tokenizer.chat_template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    small.chat_template, small.task_prompts = True, TaskPrompts([p.prompt])
    try:
        assert small.render(p.prompt + "47+38=85\n") == f"<user>{p.prompt}<assistant>47+38=85\n"
        assert small.render("other\n") == "<user>other\n<assistant>"
    finally:
        small.chat_template = False
        small.tokenizer.chat_template = None


def test_bad_input_is_refused(small):
    with pytest.raises(ValueError, match="until"):
        small.generate([GenerationRequest("1 +1\n", 1, "line", "\n", 4, 1.0, 0)])
    with pytest.raises(ValueError, match="does not exist"):
        load("policy", "hf", path="/nonexistent/model")


@pytest.mark.slow
def test_toy_prm_ranks_correct_steps_above_wrong_ones(small):
    from infscale.experiments.stats import auc
    from infscale.search.backends import ScoreRequest

    task = load("task", "toy_arith", seed=1, n=48)
    problems = task.problems()
    results = small.generate(
        [GenerationRequest(p.prompt, 4, "end", "\n", 128, 1.0, 100 * i) for i, p in enumerate(problems)]
    )
    requests, labels = [], []
    for p, r in zip(problems, results):
        for s in r.samples:
            steps = tuple(task.split_steps(s.text))
            requests.append(ScoreRequest(p.prompt, steps))
            labels += task.process_labels(p, list(steps))
    prm = load(
        "reward", "hf_prm", path=checkpoint("toy_prm"), adapter="toy", tokenizer=checkpoint("tokenizer"), batch_size=64
    )
    scores = [x for row in prm.score(requests) for x in row]
    assert len(scores) == len(labels) and all(0.0 <= x <= 1.0 for x in scores)
    right = [x for x, ok in zip(scores, labels) if ok]
    wrong = [x for x, ok in zip(scores, labels) if not ok]
    assert len(wrong) >= 20 and len(right) >= 20
    assert auc(right, wrong) > PRM_AUC_FLOOR
    assert Path(checkpoint("toy_prm"), "config.json").read_text().count("Qwen2ForProcessRewardModel") == 1


def test_prm_initialised_from_a_policy_starts_with_its_hidden_states():
    import torch
    from transformers import LlamaForCausalLM

    from infscale.experiments.training.toy_policy import RECIPES, build_model
    from infscale.experiments.training.toy_prm import load_policy_backbone
    from infscale.tasks.toy_tokenizer import build_char_tokenizer

    tokenizer = build_char_tokenizer()
    special = {"pad": tokenizer.pad_token_id, "bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id}
    prm = build_model("toy_prm", RECIPES["toy_prm"], len(tokenizer), special)
    load_policy_backbone(prm, Path(checkpoint("toy_large")))
    policy = LlamaForCausalLM.from_pretrained(checkpoint("toy_large"))
    ids = torch.tensor([tokenizer.encode("47 +38 *3\n47+38=85\n85*3=55\n", add_special_tokens=False)])
    with torch.no_grad():
        difference = (
            (prm.model(input_ids=ids).last_hidden_state - policy.model(input_ids=ids).last_hidden_state).abs().max()
        )
    assert float(difference) < 1e-5
