"""The toy world's task, checker, tokenizer and oracle reward (fast; no trained model)."""

import random

import pytest

from infscale.experiments.app.build import load
from infscale.search.backends import ScoreRequest
from infscale.tasks.toy_arith import LEVELS, MODULUS, TRAIN_SEED_BASE, ToyArithTask, draw, parse_prompt, worked_solution
from infscale.tasks.toy_tokenizer import CHARACTERS, build_char_tokenizer


def test_problems_are_seeded_and_independent_of_n():
    a = load("task", "toy_arith", seed=3, n=20).problems()
    b = load("task", "toy_arith", seed=3, n=40).problems()
    assert [p.prompt for p in a] == [p.prompt for p in b[:20]]
    assert [p.prompt for p in load("task", "toy_arith", seed=4, n=20).problems()] != [p.prompt for p in a]
    assert [p.level for p in a[:8]] == [1, 2, 3, 4, 1, 2, 3, 4]
    assert len({p.id for p in b}) == 40


def test_levels_control_steps_and_operands():
    for level, spec in LEVELS.items():
        for p in load("task", "toy_arith", seed=0, level=level, n=50).problems():
            start, ops = parse_prompt(p.prompt)
            assert len(ops) == spec.steps and 0 <= start < MODULUS
            assert all(1 <= k <= spec.add_max if op != "*" else 2 <= k <= spec.mul_max for op, k in ops)


def test_known_problem_reference_and_solution():
    task = load("task", "toy_arith")
    problem = task.problem(0, 3, 0)
    problem = type(problem)(id="x", prompt="47 +38 *3 -12 -1\n", reference="42", level=3)
    assert task.solution(problem) == "47+38=85\n85*3=55\n55-12=43\n43-1=42\nanswer: 42"
    assert task.extract_answer(task.solution(problem)) == "42"
    assert task.is_correct("042", "42") and not task.is_correct(None, "42")


def test_checker_labels_known_correct_and_wrong_solutions_exactly():
    task = load("task", "toy_arith")
    problem = type(task.problem(0, 1, 0))(id="x", prompt="47 +38 *3 -12\n", reference="43")
    steps = lambda text: task.split_steps(text)  # noqa: E731
    assert task.label_steps(problem, steps("47+38=85\n85*3=55\n55-12=43\nanswer: 43")) == [True] * 4
    # wrong result, then a correct continuation from it, answer consistent with the chain
    wrong = steps("47+38=86\n86*3=58\n58-12=46\nanswer: 46")
    assert task.label_steps(problem, wrong) == [False, True, True, True]
    assert task.process_labels(problem, wrong) == [False] * 4
    assert task.first_error(problem, wrong) == 0
    # copied the wrong operand / operation, leading zero, wrong answer line, extra step
    assert task.label_steps(problem, steps("47+38=85\n58*3=74\n74-12=62\nanswer: 62")) == [True, False, True, True]
    assert task.label_steps(problem, steps("47+38=85\n85+3=88\n")) == [True, False]
    assert task.label_steps(problem, steps("47+38=85\n85*3=055\n")) == [True, False]
    assert task.label_steps(problem, steps("47+38=85\n85*3=55\n55-12=43\nanswer: 44")) == [True, True, True, False]
    assert (
        task.label_steps(problem, steps("47+38=85\n85*3=55\n55-12=43\n43+0=43\nanswer: 43")) == [True] * 3 + [False] * 2
    )
    # premature answer and garbage
    assert task.label_steps(problem, steps("47+38=85\nanswer: 85")) == [True, False]
    assert task.label_steps(problem, steps("hello\n47+38=85")) == [False, False]
    assert task.first_error(problem, steps("47+38=85\n85*3=55\n")) == 2


def test_right_answer_through_a_wrong_step_exists_and_is_caught():
    task = load("task", "toy_arith")
    problem = type(task.problem(0, 1, 0))(id="x", prompt="10 +5 *4\n", reference="60")
    # 15*4 = 60 and 40*4 = 60 (mod 100): a wrong middle value reaches the right answer
    text = "10+5=40\n40*4=60\nanswer: 60"
    assert task.is_correct(task.extract_answer(text), problem.reference)
    assert task.label_steps(problem, task.split_steps(text)) == [False, True, True]
    assert task.process_labels(problem, task.split_steps(text)) == [False, False, False]


def test_injected_errors_follow_the_rate():
    rng = random.Random(1)
    task = load("task", "toy_arith")
    wrong = total = 0
    for _ in range(400):
        start, ops = draw(rng, 4)
        problem = type(ToyArithTask.problem(0, 1, 0))(
            id="x", prompt=" ".join([str(start)] + [f"{o}{k}" for o, k in ops]) + "\n", reference=""
        )
        labels = task.label_steps(problem, task.split_steps(worked_solution(start, ops, rng, 0.1)))
        wrong += labels.count(False)
        total += len(labels) - 1
    assert 0.08 < wrong / total < 0.12


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="reserved for training"):
        load("task", "toy_arith", seed=TRAIN_SEED_BASE)
    with pytest.raises(ValueError, match="level"):
        load("task", "toy_arith", level=9)
    with pytest.raises(ValueError, match="not a toy_arith prompt"):
        parse_prompt("what is 2+2?\n")


def test_tokenizer_round_trips_every_character(tmp_path):
    from transformers import AutoTokenizer

    tokenizer = build_char_tokenizer()
    tokenizer.save_pretrained(str(tmp_path))
    loaded = AutoTokenizer.from_pretrained(str(tmp_path))
    text = "".join(CHARACTERS) + "\n\n  47+38=85\nanswer: 43 "
    for tok in (tokenizer, loaded):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert len(ids) == len(text)
        assert tok.decode(ids) == text
        assert tok.convert_tokens_to_string(tok.convert_ids_to_tokens(ids)) == text
    assert loaded.eos_token == "</s>" and loaded.pad_token_id == 0


def test_oracle_prm_scores_first_error_and_noise_is_stable():
    task = load("task", "toy_arith", seed=0, n=8)
    problem = task.problems()[3]
    good = tuple(task.split_steps(task.solution(problem)))
    bad_value = good[1].split("=")[1].strip()
    bad = good[:1] + (good[1].replace("=" + bad_value, "=" + str((int(bad_value) + 1) % 100)),) + good[2:]
    oracle = load("reward", "oracle", task=task)
    scores = oracle.score([ScoreRequest(problem.prompt, good), ScoreRequest(problem.prompt, bad)])
    assert scores[0] == [1.0] * len(good)
    assert scores[1] == [1.0] + [0.0] * (len(bad) - 1)
    assert oracle.spec is None and oracle.count_tokens(ScoreRequest(problem.prompt, good)) == 0
    noisy = load("reward", "oracle", task=task, label_noise=0.3, seed=1)
    many = [
        ScoreRequest(p.prompt, tuple(task.split_steps(task.solution(p))))
        for p in load("task", "toy_arith", seed=1, n=200).problems()
    ]
    flat = [s for row in noisy.score(many) for s in row]
    assert 0.25 < flat.count(0.0) / len(flat) < 0.35
    longer = noisy.score([ScoreRequest(many[0].prompt, many[0].steps[:2])])[0]
    assert longer == noisy.score(many[:1])[0][:2]
    with pytest.raises(ValueError, match="label_noise"):
        load("reward", "oracle", task=task, label_noise=1.5)
