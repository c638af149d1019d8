"""policy=replay / reward=replay on math_cot_100 through the ordinary run path."""

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from infscale.experiments.app import resolvers
from infscale.experiments.app.build import load
from infscale.experiments.app.run import run
from infscale.search.backends import GenerationRequest, ScoreRequest
from infscale.tasks.data import data_dir

CONF = str(Path(__file__).resolve().parent.parent / "conf")
DATA = data_dir() / "math_cot_100" / "math_cot_100.jsonl"
pytestmark = pytest.mark.data("math_cot_100")


def replay_run(tmp_path, *overrides):
    resolvers.register()
    with initialize_config_dir(config_dir=CONF, version_base=None):
        cfg = compose(
            "config",
            overrides=[
                "task=math_cot_100",
                "policy=replay",
                "reward=replay",
                "strategy=best_of_n",
                "progress=false",
                *overrides,
            ],
        )
    folder = tmp_path / "_".join(o.replace("=", "-").replace("/", "_") for o in overrides)
    summary = run(cfg, folder)
    return summary, [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


def file_rows():
    return {str(r["idx"]): r for r in map(json.loads, DATA.read_text().splitlines())}


@pytest.mark.parametrize("selector, accuracy", [("majority", 0.93), ("best", 0.95), ("weighted", 0.95)])
def test_n8_selectors_agree_with_the_files_labels(tmp_path, selector, accuracy):
    summary, records = replay_run(tmp_path, "strategy.n=8", f"strategy.selector={selector}")
    assert summary["n_problems"] == 100
    assert summary["accuracy"] == pytest.approx(accuracy)
    assert summary["accuracy_lo"] < accuracy < summary["accuracy_hi"]
    rows, task = file_rows(), load("task", "math_cot_100")
    for record in records:
        row = rows[record["problem_id"]]
        labels = {
            row["score"][i] for i, text in enumerate(row["response"]) if task.extract_answer(text) == record["answer"]
        }
        if record["problem_id"] == "72" and record["answer"] == "10000":
            # The file's grader called 10000 wrong against "10{,}000"; math-verify is right.
            assert labels == {False} and record["correct"] is True
            continue
        assert labels == {record["correct"]}, record["problem_id"]
    best_by_file = sum(r["score"][max(range(8), key=lambda i: (r["pred_score"][i][0], -i))] for r in rows.values())
    if selector == "best":
        assert best_by_file == 94 and round(summary["accuracy"] * 100) == best_by_file + 1  # idx 72


def test_replayed_costs_are_null_and_scores_are_sigmoids(tmp_path):
    _, records = replay_run(tmp_path, "strategy.n=8", "strategy.selector=best")
    first = records[0]
    assert first["tokens"] == {
        "generated": None,
        "prompt_computed": None,
        "prompt_cached": None,
        "reward": None,
        "reward_cached": None,
        "recomputed": None,
    }
    assert set(first["flops"].values()) == {None}
    logits = [x[0] for x in file_rows()["0"]["pred_score"]]
    assert [c["step_scores"] for c in first["candidates"]] == [
        [pytest.approx(1 / (1 + 2.718281828459045**-x))] for x in logits
    ]


def test_smaller_n_plays_back_the_first_recordings(tmp_path):
    _, records = replay_run(tmp_path, "strategy.n=1", "strategy.selector=majority")
    rows, task = file_rows(), load("task", "math_cot_100")
    assert [r["answer"] for r in records] == [
        task.extract_answer(rows[r["problem_id"]]["response"][0]) for r in records
    ]
    assert sum(r["correct"] for r in records) == 90  # the file labels 90 of the first responses correct


def test_task_path_override(tmp_path):
    small = tmp_path / "five.jsonl"
    small.write_text("".join(DATA.read_text().splitlines(keepends=True)[:5]))
    summary, records = replay_run(tmp_path, f"task.path={small}", "strategy.n=8", "strategy.selector=majority")
    assert summary["n_problems"] == 5 and [r["problem_id"] for r in records] == ["0", "1", "2", "3", "4"]


def test_seeded_order_rotates_and_steps_concatenate():
    task = load("task", "math_cot_100")
    problem = task.problems()[3]
    texts = [r.text for r in task.recordings(problem.prompt)]
    policy = load("policy", "replay", task=task, order="seeded")
    out = policy.generate([GenerationRequest(problem.prompt, 8, "end", "\n\n", 4096, 1.0, seed=5)])[0]
    assert [s.text for s in out.samples] == texts[5:] + texts[:5]
    assert out.prompt_computed is None and {s.tokens for s in out.samples} == {None}
    solution, steps = "", 0
    recorded = load("policy", "replay", task=task)
    while True:
        sample = recorded.generate([GenerationRequest(problem.prompt + solution, 1, "step", "\n\n", 4096, 1.0, 0)])[
            0
        ].samples[0]
        solution += sample.text
        steps += 1
        if sample.finish == "end":
            break
        assert sample.text.endswith("\n\n")
    assert solution == texts[0] and steps == texts[0].rstrip("\n").count("\n\n") + 1


@pytest.mark.data("gsm8k")
def test_clear_errors():
    task = load("task", "math_cot_100")
    problem = task.problems()[0]
    with pytest.raises(ValueError, match="only 8 recordings"):
        load("policy", "replay", task=task).generate(
            [GenerationRequest(problem.prompt, 9, "end", "\n\n", 4096, 1.0, 0)]
        )
    with pytest.raises(ValueError, match="no recorded problem"):
        load("policy", "replay", task=task).generate(
            [GenerationRequest("unknown prompt", 1, "end", "\n\n", 4096, 1.0, 0)]
        )
    with pytest.raises(ValueError, match="needs a task with recorded"):
        load("policy", "replay", task=load("task", "gsm8k"))
    reward = load("reward", "replay", task=task)
    assert reward.outcome is True
    with pytest.raises(ValueError, match="no recorded score"):
        reward.score([ScoreRequest(problem.prompt, ("a made-up step\n\n",))])
    with pytest.raises(ValueError, match="reward.transform"):
        load("reward", "replay", task=task, transform="softmax")
    raw = load("reward", "replay", task=task, transform="none")
    steps = tuple(task.split_steps(task.recordings(problem.prompt)[0].text))
    assert raw.score([ScoreRequest(problem.prompt, steps)]) == [[3.546875]]
