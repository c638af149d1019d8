"""The unclear errors a new user met (issue 16), each now one line naming the file, line or key,
before any work: bad bytes, keys left ???, folders that are no model, prompts over a model's
context, scores that are not numbers, an unwritable run folder, a seed that is not a number."""

import json

import pytest

from tests.conftest import run_cli
from tests.engine_helpers import load

pytestmark = pytest.mark.slow

TOY = ("policy=toy_small", "reward=none", "strategy=best_of_n_majority", "strategy.n=2")


def one_line_error(done, expected):
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and expected in errors[0], done.stderr[-2000:]


def gsm8k_file(path, questions):
    rows = [{"question": q, "answer": "so #### 7"} for q in questions]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (("seed=abc",), "seed must be an integer, got 'abc'"),
        (("n_problems=1.5",), "n_problems must be a non-negative integer, got 1.5"),
        (("task=toy_arith", *TOY, "policy.path=???"), "policy.path must be set (the config leaves it ???)"),
    ],
)
def test_config_values_that_cannot_run(tmp_path, overrides, expected):
    one_line_error(run_cli(*overrides, f"hydra.run.dir={tmp_path / 'run'}"), expected)


def test_empty_model_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    done = run_cli("task=toy_arith", *TOY, f"policy.path={tmp_path / 'empty'}", f"hydra.run.dir={tmp_path / 'run'}")
    one_line_error(done, f"policy.path={tmp_path / 'empty'} is a folder without a model")


def test_non_utf8_task_file_names_file_and_line(tmp_path):
    path = gsm8k_file(tmp_path / "q.jsonl", ["What is 3 + 4?", "And 5 + 2?"])
    path.write_bytes(path.read_bytes().replace(b"And", b"\xffnd"))
    done = run_cli("task=gsm8k", f"task.path={path}", *TOY, f"hydra.run.dir={tmp_path / 'run'}")
    one_line_error(done, f"{path}:2: not UTF-8 (byte 0xff at column 15)")


def test_prompt_over_the_policy_context_stops_before_any_work(tmp_path):
    path = gsm8k_file(tmp_path / "q.jsonl", ["What is 3 + 4?", "1 + " * 56_000 + "1?"])
    done = run_cli("task=gsm8k", f"task.path={path}", *TOY, f"hydra.run.dir={tmp_path / 'run'}", timeout=120)
    one_line_error(done, "problem gsm8k-0001: its prompt is")
    assert "at or over policy 'toy_small''s context of 512" in done.stderr
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_run_folder_that_cannot_be_created(tmp_path):
    (tmp_path / "a_file").write_text("")
    done = run_cli("n_problems=2", f"hydra.run.dir={tmp_path / 'a_file' / 'run'}")
    one_line_error(done, f"{tmp_path / 'a_file'} is not a folder; choose another hydra.run.dir")


def test_recorded_score_that_is_not_a_number_names_file_and_record(tmp_path):
    row = {"idx": 7, "question": "1+1?", "gt": "2", "response": ["2"], "pred_score": [["high"]]}
    (tmp_path / "rec.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=r"rec.jsonl: idx 7: pred_score holds \['high'\], not a list of numbers"):
        load("task", "math_cot_100", path=str(tmp_path / "rec.jsonl")).problems()


def test_prm_eval_tau_outside_unit_interval_is_refused(tmp_path):
    from infscale.experiments.app.prm_eval import evaluate_prm
    from tests.test_prm_eval import prm_config, write_fixture

    path = write_fixture(tmp_path / "set.jsonl")
    with pytest.raises(ValueError, match=r"tau must be in \[0, 1\] \(step scores are probabilities\), got 2"):
        evaluate_prm(prm_config(f"data.path={path}", "reward=replay", "tau=2"))
