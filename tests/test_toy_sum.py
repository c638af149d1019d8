"""The many-paths toy task (`tasks/toy_sum.py`): its checker, and the ladder's data,
encoding (`experiments/training/ladder_ops.py`) and metrics (`ladder_metrics.py`)."""

from __future__ import annotations

import random

import pytest

from infscale.experiments.training import ladder_ops as ops
from infscale.experiments.training.ladder_metrics import choose, selection_curves
from infscale.rewards.prm_adapters.toy import ToyAdapter
from infscale.tasks.toy_arith import TRAIN_SEED_BASE
from infscale.tasks.toy_sum import SUM_LEVELS, ToySumTask, parse_sum_prompt, random_path
from infscale.tasks.toy_tokenizer import build_char_tokenizer

TASK = ToySumTask(seed=0, level="mixed", n=40)


def test_every_random_path_is_right_and_paths_differ():
    for problem in TASK.problems():
        start, terms = parse_sum_prompt(problem.prompt)
        paths = {random_path(start, terms, random.Random(k)) for k in range(30)}
        assert len(paths) > 1  # several valid solution paths per problem
        for text in paths:
            steps = TASK.split_steps(text)
            assert all(TASK.label_steps(problem, steps)) and TASK.first_error(problem, steps) is None
            assert TASK.extract_answer(text) == problem.reference
            assert len(steps) == SUM_LEVELS[problem.level].steps + 1


def test_checker_flags_wrong_results_reused_and_skipped_terms():
    problem = ToySumTask.problem(0, 2, 0)  # "30 +58 +7*5 +83"-like: 3 additive terms, 1 product
    start, terms = parse_sum_prompt(problem.prompt)
    steps = TASK.split_steps(random_path(start, terms, random.Random(0)))
    # a wrong result: that step is wrong, the next one continuing from it is right locally
    head, value = steps[1].split("=")
    bad = [steps[0], f"{head}={(int(value) + 1) % 100}", *steps[2:]]
    labels = TASK.label_steps(problem, bad)
    assert labels[:2] == [True, False] and TASK.first_error(problem, bad) == 1
    assert TASK.process_labels(problem, bad) == [True] + [False] * (len(bad) - 1)
    # a premature answer, a reused term, a term that is not in the problem
    assert TASK.label_steps(problem, [steps[0], f"answer: {steps[0].split('=')[1]}"]) == [True, False]
    made = type(problem)(id="m", prompt="30 +58 +7*5 -83\n", reference="40", level=None)
    assert TASK.label_steps(made, ["30+58=88", "88+58=46"]) == [True, False]  # a term used twice
    assert TASK.label_steps(made, ["30+35=65"]) == [False]  # a product added before it is computed
    assert TASK.label_steps(made, ["7*5=35", "30+35=65", "65-83=82", "82+58=40", "answer: 40"]) == [True] * 5
    assert TASK.label_steps(made, ["7*5=35", "30+35=65", "65-83=82", "answer: 82"]) == [True, True, True, False]
    assert TASK.label_steps(made, ["30+58=88", "88+7*5=23"]) == [True, False]  # a product needs its own step
    # an incomplete solution has its first error after its last step
    assert TASK.first_error(problem, steps[:-1]) == len(steps) - 1
    with pytest.raises(ValueError, match="task.level"):
        ToySumTask(seed=0, level=7, n=3)
    with pytest.raises(ValueError, match="reserved for training"):
        ToySumTask(seed=TRAIN_SEED_BASE, level="mixed", n=3)


def test_training_sequences_mask_the_prompt_and_refuse_evaluation_seeds():
    import torch

    block = torch.from_numpy(ops.training_block((TRAIN_SEED_BASE, 0, 8, 128)))
    batch = ops.policy_batch(block)
    for row in range(8):
        tokens, prompt = ops.training_sequence(TRAIN_SEED_BASE, row)
        text = "".join(ops.INVERSE[t] for t in tokens[:-1])
        problem_text, solution = text[:prompt], text[prompt:]
        problem = ToySumTask(seed=0, level="mixed", n=1).problem(0, 1, 0)
        problem = type(problem)(id="t", prompt=problem_text, reference="0", level=None)
        assert all(TASK.label_steps(problem, TASK.split_steps(solution)))
        labelled = [t for t in batch["labels"][row].tolist() if t != ops.IGNORE_INDEX]
        assert labelled == tokens[prompt:] and labelled[-1] == ops.EOS
    with pytest.raises(ValueError, match="evaluation seed"):
        ops.training_sequence(5, 0)


def test_fast_prm_encoding_equals_the_toy_adapter():
    adapter = ToyAdapter(build_char_tokenizer())
    for problem in TASK.problems()[:12]:
        steps = TASK.split_steps(TASK.solution(problem))
        encoding = adapter.encode(problem.prompt, steps, 512)
        assert ops.encode_prm(problem.prompt, steps) == (list(encoding.ids), list(encoding.positions))


def test_voting_curves_and_auc_on_hand_made_cases():
    def rec(answer):
        return {"answer": answer, "correct": answer == "7"}

    records = [[rec("7"), rec("3"), rec("3"), rec("7"), rec("7"), rec(None), rec("2"), rec("7")]]
    scores = [[[0.9], [0.2], [0.3], [0.8], [0.1], [0.5], [0.99], [0.6]]]
    curves = selection_curves(records, ["7"], [1, 2, 4, 8], scores)
    assert curves["majority"][1] == 4 / 8  # one sample: 4 of 8 right
    assert curves["majority"][2] == 2 / 4  # pairs (7,3) (3,7) (7,None) (2,7): ties go to the first seen
    assert curves["majority"][4] == 1.0 and curves["majority"][8] == 1.0  # (7,3,3,7): the tie goes to 7
    assert curves["weighted"][2] == 3 / 4 and curves["best"][8] == 0.0  # 0.99 on the wrong "2"
    assert curves["weighted"][8] == 1.0
    # (7 at 0.1, no answer at 0.5): it does not vote, so weighted picks 7, but best-of-N picks it and misses
    assert curves["best"][2] == 2 / 4
    assert choose(["3", "7", "7", None]) == "7" and choose([None]) is None
