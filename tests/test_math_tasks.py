"""GSM8K, MATH500 and math_cot_100 loaders, prompts, extraction and reference self-grading."""

import json
import re

import pytest

from infscale.experiments.app.build import load
from infscale.tasks.gsm8k import reference_answer
from infscale.tasks.prompts import QWEN_SYSTEM, extract_answer, family, last_boxed, strip_thousands


@pytest.fixture(scope="module")
def math500():
    return load("task", "math500")


@pytest.fixture(scope="module")
def gsm8k():
    return load("task", "gsm8k")


def test_extraction():
    assert last_boxed("so \\boxed{\\frac{1}{2}} and then \\boxed{x^{2}}.") == "x^{2}"
    assert last_boxed("\\boxed 5.") == "5"
    assert last_boxed("\\boxed{unclosed") is None
    assert extract_answer("Step 2: 3+4=7\nThe answer is: 7") == "7"
    assert extract_answer("Step 3: 2+2=4 ки\nStep 4: The answer is: 4 ки") == "4"
    assert extract_answer("The answer is $\\frac{3}{4}$.") == "\\frac{3}{4}"
    assert extract_answer("Janet makes 18.\n#### 18") == "18"
    assert extract_answer("no answer here") is None
    assert strip_thousands("1,234,567") == "1234567" and strip_thousands("(1,2)") == "(1,2)"


def test_prompt_families():
    qwen = family("qwen25_math")
    assert qwen.render("Q?") == (
        f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert qwen.step_delimiter == "\n\n"
    assert family("metamath").render("Q?").endswith("### Instruction:\nQ?\n\n### Response: Let's think step by step.\n")
    assert family("metamath_fewshot").render("Q?").count("### Instruction:") == 3
    assert family("raw").render("Q?") == "Q?" and family("raw").step_delimiter == "\n"
    with pytest.raises(ValueError, match="prompt family 'llama'"):
        family("llama")


@pytest.mark.data("gsm8k")
def test_gsm8k_loader(gsm8k):
    problems = gsm8k.problems()
    assert len(problems) == 1319
    assert problems[0].id == "gsm8k-0000" and problems[0].reference == "18" and problems[0].level is None
    assert problems[0].prompt.startswith("<|im_start|>system") and gsm8k.question_for(problems[0].prompt).startswith(
        "Janet"
    )
    assert reference_answer("x\n#### 1,000") == "1000"


def _number(text: str) -> float | None:
    """A plain decimal number ("52_8", a base-8 answer, is not: Python's float() would say 528)."""
    return float(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else None


@pytest.mark.slow
@pytest.mark.data("gsm8k")
def test_every_gsm8k_reference_grades_its_equivalent_forms_and_rejects_its_neighbour(gsm8k):
    """Pairs a string-equality grader gets wrong: each reference r against "r.0" and
    "\\frac{2r}{2}" (equivalent) and against r + 1 (not)."""
    references = [p.reference for p in gsm8k.problems()]
    assert all(_number(r) is not None for r in references)
    assert sum(gsm8k.is_correct(f"{r}.0", r) for r in references) == len(references)
    assert sum(gsm8k.is_correct(f"\\frac{{{2 * int(r)}}}{{2}}", r) for r in references) == len(references)
    assert sum(gsm8k.is_correct(str(int(r) + 1), r) for r in references) == 0


@pytest.mark.data("math500")
def test_math500_loader(math500):
    problems = math500.problems()
    assert len(problems) == 500
    first = problems[0]
    assert first.id == "test/precalculus/807.json" and first.level == 2 and first.meta["subject"] == "Precalculus"
    assert first.reference == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert len(load("task", "math500", level=5).problems()) == sum(p.level == 5 for p in problems)


# (reference, an equivalent form, a near miss): none of the forms is the reference's text
MATH500_PAIRS = [
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)", "(3, \\pi)"),
    ("p - q", "-q + p", "q - p"),
    ("\\frac{14}{3}", "14/3", "\\frac{3}{14}"),
    ("\\frac{3}{56}", "\\frac{6}{112}", "\\frac{3}{65}"),
    ("3\\sqrt{13}", "\\sqrt{117}", "\\sqrt{39}"),
    ("6 - 5i", "-5i + 6", "6 + 5i"),
    ("1.25", "\\frac{5}{4}", "1.35"),
    ("0.15", "\\frac{3}{20}", "\\frac{3}{2}"),
    ("x^5 - x^4 + x^3 - x^2 + x - 1", "-1 + x - x^2 + x^3 - x^4 + x^5", "x^5 + x^4 + x^3 - x^2 + x - 1"),
    ("-\\frac{\\pi}{6}", "-\\pi/6", "\\frac{\\pi}{6}"),
    ("70 \\sqrt{2}", "\\sqrt{9800}", "70 \\sqrt{3}"),
    ("3, 5, 7", "7, 5, 3", "3, 5"),
    ("\\frac{3}{2}", "1.5", "-1.5"),
]


@pytest.mark.data("math500")
def test_math500_answers_graded_by_equivalence_not_by_text(math500):
    references = {p.reference for p in math500.problems()}
    for reference, same, different in MATH500_PAIRS:
        assert reference in references
        assert math500.is_correct(same, reference), (reference, same)
        assert not math500.is_correct(different, reference), (reference, different)


@pytest.mark.slow
@pytest.mark.data("math500")
def test_every_numeric_math500_reference_grades_its_equivalent_form_and_rejects_its_neighbour(math500):
    numbers = [p.reference for p in math500.problems() if _number(p.reference) is not None]
    assert len(numbers) > 250
    assert sum(math500.is_correct(f"\\frac{{{2 * _number(r):g}}}{{2}}", r) for r in numbers) == len(numbers)
    assert sum(math500.is_correct(f"{_number(r) + 1:g}", r) for r in numbers) == 0


@pytest.mark.data("math_cot_100")
def test_math_cot_100_matches_the_recorders_labels():
    task = load("task", "math_cot_100")
    problems = task.problems()
    assert len(problems) == 100 and problems[0].id == "0" and problems[0].reference == "420"
    disagreements = []
    for problem in problems:
        for recording in task.recordings(problem.prompt):
            verdict = task.is_correct(task.extract_answer(recording.text), problem.reference)
            if verdict != recording.label:
                disagreements.append((problem.id, problem.reference, task.extract_answer(recording.text)))
    # idx 72: reference "10{,}000" and answer 10000 are equal; the recorder's grader said wrong.
    assert disagreements == [("72", "10{,}000", "10000")]


@pytest.mark.data("math500")  # "no problems at level 9" reads the file
def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="is not a file"):
        load("task", "math500", path=str(tmp_path / "missing.jsonl")).problems()
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"problem": "x", "answer": "1"}) + "\n")
    with pytest.raises(ValueError, match="missing field"):
        load("task", "math500", path=str(broken)).problems()
    with pytest.raises(ValueError, match="task.level"):
        load("task", "math500", level="hard")
    with pytest.raises(ValueError, match="no problems at level 9"):
        load("task", "math500", level=9).problems()


def test_data_dir_env(tmp_path, monkeypatch):
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n")
    monkeypatch.setenv("INFSCALE_DATA_DIR", str(tmp_path))
    assert [p.reference for p in load("task", "gsm8k").problems()] == ["2"]
