"""The adapters that put infscale's backends under search-and-learn's loops
(experiments/bench/sal_adapters.py): the toy chat rendering keeps the step delimiter, the
PRM adapter returns the toy PRM's own step scores per question and output, and on vLLM the
Llama step break "\\n\\n" becomes the task's delimiter with generated tokens counted."""

import pytest

from infscale.experiments.app.build import load
from infscale.experiments.bench.sal_adapters import PlainChat, ScoringPRM, StepLLM
from infscale.search.backends import ScoreRequest


@pytest.fixture(scope="module")
def task():
    return load("task", "toy_arith", n=4)


@pytest.fixture(scope="module")
def prm(task):
    return ScoringPRM(load("reward", "toy_prm", task=task), task)


def test_chat_renders_prompt_then_partial_solution_with_its_trailing_delimiter():
    conv = [
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "16 *3 +6\n"},
        {"role": "assistant", "content": "16*3=48\n"},
    ]
    assert PlainChat().apply_chat_template([conv, conv[:2]], continue_final_message=True, tokenize=False) == [
        "16 *3 +6\n16*3=48\n",
        "16 *3 +6\n",
    ]


def test_prm_adapter_gives_the_rewards_step_scores_per_question_and_output(task, prm):
    question = task.problems()[0].prompt
    outputs = [["16*3=48\n48+6=54\n", ""], ["16*3=48\n"]]
    scores = prm.score([question, question], outputs)
    direct = prm.reward.score(
        [ScoreRequest(question, ("16*3=48\n", "48+6=54\n")), ScoreRequest(question, ("16*3=48\n",))]
    )
    assert [len(s) for s in scores] == [2, 1]
    assert scores[0][0] == pytest.approx(list(direct[0]), abs=1e-6)
    assert scores[1][0] == pytest.approx(list(direct[1]), abs=1e-6)
    assert scores[0][1] == [0.0]
    assert all(0.0 <= s <= 1.0 for s in scores[0][0])
    assert (prm.calls, prm.sequences) == (1, 2)


def test_prm_adapter_refuses_unmatched_lists(prm):
    with pytest.raises(ValueError, match="2 questions but 1 output lists"):
        prm.score(["a", "b"], [["x"]])


@pytest.mark.vllm
def test_step_llm_stops_at_the_task_delimiter_and_counts_tokens_without_eos(task):
    from vllm import SamplingParams

    from tests.vllm_helpers import release

    policy = load("policy", "vllm_toy_small")
    try:
        llm = StepLLM(policy.llm, "\n")
        params = SamplingParams(temperature=1.0, max_tokens=24, stop=["\n\n"], include_stop_str_in_output=True)
        prompt = task.problems()[0].prompt
        outputs = llm.generate([prompt] * 6, params)
        texts = [o.outputs[0].text for o in outputs]
        assert all(t.endswith("\n") and t.count("\n") == 1 for t in texts), texts
        assert params.stop == ["\n\n"]
        ended = llm.generate([prompt] * 2, SamplingParams(max_tokens=64))
        eos = sum(o.outputs[0].finish_reason == "stop" and o.outputs[0].stop_reason is None for o in ended)
        every = [len(o.outputs[0].token_ids) for o in outputs + ended]
        assert eos > 0 and llm.generated == sum(every) - eos
        assert (llm.calls, llm.sequences) == (2, 8) and llm.seconds > 0
    finally:
        release(policy)
