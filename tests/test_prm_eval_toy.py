"""The PRM lab on the toy world: a toy ProcessBench-format set from toy_small's own samples,
judged by the exact checker (the ceiling) and by a noisy one, at step and response level."""

import pytest

from infscale.experiments.app.build import load
from infscale.experiments.app.prm_eval import evaluate_prm
from infscale.experiments.studies.toy_processbench import CHECKPOINTS, toy_records, write_by_subset
from infscale.rewards.eval.data import item_record, load_items, write_items
from tests.test_prm_eval import prm_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def toy_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy_processbench")
    counts = write_by_subset(folder, toy_records([CHECKPOINTS / "toy_small"], problems=12, samples=2))
    assert sorted(counts) == [f"toy_arith-L{k}" for k in (1, 2, 3, 4)] and sum(counts.values()) > 24
    # toy_small rarely solves a problem, so the exact worked solutions join as correct items
    task = load("task", "toy_arith", seed=7, n=12)
    write_items(
        folder / "reference.jsonl",
        [
            item_record(p.id, "reference", p.prompt, task.split_steps(task.solution(p)), -1, True, problem_id=p.id)
            for p in task.problems()
        ],
    )
    return folder


def test_toy_set_labels_are_the_checkers(toy_set):
    task = load("task", "toy_arith", seed=7, n=12)
    problems = {p.prompt: p for p in task.problems()}
    items = load_items(str(toy_set))
    for item in items:
        labels = task.process_labels(problems[item.problem], list(item.steps))
        assert item.label == next((i for i, ok in enumerate(labels) if not ok), -1)
    assert any(i.label == -1 for i in items) and any(i.label >= 0 for i in items)


def test_exact_checker_is_the_ceiling_and_noise_costs(toy_set):
    common = [f"data.path={toy_set}", "task=toy_arith", "task.n=12", "policy=toy_small", "bon.n=4", "bon.n_problems=12"]
    exact = evaluate_prm(prm_config(*common, "reward=oracle"))
    for metrics in exact["subsets"].values():
        assert metrics["acc_err"] in (1.0, None) and metrics["acc_cor"] in (1.0, None)
    assert exact["subsets"]["reference"]["acc_cor"] == 1.0 and exact["subsets"]["reference"]["n"] == 12
    assert exact["subsets"]["toy_arith-L1"]["acc_err"] == 1.0
    bon = exact["bon"]
    # the checker picks a right-process solution whenever there is one; a right answer
    # reached by a wrong process counts for pass@N but scores 0, and is always flagged
    assert bon["accuracy"]["best_min"]["accuracy"] <= bon["pass_at_n"]
    assert bon["wrong_process"]["caught"] in (1.0, None) and bon["wrong_process"]["caught_at_first_error"] in (
        1.0,
        None,
    )
    assert bon["accuracy"]["best_min"]["accuracy"] == bon["accuracy"]["best_prod"]["accuracy"]
    assert bon["min_on_last"]["n"] > 0
    noisy = evaluate_prm(prm_config(*common, "reward=oracle", "reward.label_noise=0.3"))
    assert noisy["subsets"]["reference"]["acc_cor"] < 0.5  # 4-6 steps, each flipped with p = 0.3
    assert noisy["subsets"]["toy_arith-L4"]["acc_err"] < 1.0
