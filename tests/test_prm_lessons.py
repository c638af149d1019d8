"""The PRM-lessons study (experiments/studies/prm_lessons.py): intervals over seeds, orderings
claimed only where paired intervals separate, and a whole tiny run on the toy_sum world."""

import json

import pytest

from infscale.experiments.stats import t_interval as interval
from infscale.experiments.studies import prm_lessons as lessons
from infscale.experiments.studies.prm_lessons_report import by_prm, orderings
from infscale.experiments.studies.toy_processbench import toy_records
from infscale.tasks.toy_arith import CHECKPOINTS


def test_interval_is_the_t_interval_of_the_mean():
    mean, low, high = interval([0.6, 0.7, 0.8])
    # sd 0.1, t(0.975, 2) = 4.302653, half width 4.302653 * 0.1 / sqrt(3) = 0.248414
    assert mean == pytest.approx(0.7)
    assert low == pytest.approx(0.7 - 0.248414, abs=1e-6)
    assert high == pytest.approx(0.7 + 0.248414, abs=1e-6)
    assert interval([0.25]) == (0.25, 0.25, 0.25)


def _row(name: str, auc: float, best: float) -> dict:
    subsets = {"L1": {"acc_err": 0.5, "acc_cor": 0.5}}
    accuracy = {c: {"accuracy": best} for c in ("best_min", "best_last", "best_prod", "weighted_min", "weighted_last")}
    return {
        "name": name,
        "step": {"avg_f1": 0.5, "subsets": subsets},
        "step_fitted": {"avg_f1": 0.5, "tau": 0.5},
        "step_auc": auc,
        "bon": {"accuracy": accuracy, "min_on_last": {"share": 0.0}, "wrong_process": None},
    }


def test_orderings_only_where_the_paired_difference_excludes_zero():
    # a beats b by 0.10, 0.11, 0.09 (paired: separated although a's own spread overlaps b's);
    # b and c differ by +0.05, -0.05, +0.01 (not separated)
    seeds = [
        {"seed": s, "prms": [_row("a", a, 0.5), _row("b", b, 0.5), _row("c", c, 0.5)]}
        for s, (a, b, c) in enumerate([(0.80, 0.70, 0.65), (0.91, 0.80, 0.85), (0.70, 0.61, 0.60)])
    ]
    assert by_prm(seeds)["a"]["step_auc"] == [0.80, 0.91, 0.70]
    auc_line = orderings(seeds)[0]
    assert auc_line.startswith("- **step AUC (to first error)**: a > b (+10.0 [7.5, 12.5]).")
    assert auc_line.endswith("Not separated: a ~ c, b ~ c.")  # a - c: +0.15, +0.06, +0.10
    best_line = orderings(seeds)[2]
    assert "no pair separated" in best_line and "a ~ b, a ~ c, b ~ c" in best_line


@pytest.mark.slow
def test_toy_sum_held_out_set_uses_the_presets_temperature():
    records = toy_records([CHECKPOINTS / "toy_sum_s"], problems=4, samples=2, task="toy_sum", task_seed=2)
    temperatures = sorted({r["provenance"]["temperature"] for r in records})
    assert temperatures == [0.0, 0.7]  # greedy and conf/policy/toy_sum_s.yaml's temperature
    assert all(r["subset"].startswith("toy_sum-L") for r in records)
    assert sum(r["provenance"]["temperature"] == 0.0 for r in records) == 4  # one greedy per problem


@pytest.mark.slow
def test_a_tiny_study_over_two_seeds_reports_intervals_and_resumes(tmp_path):
    args = ["--pool-problems", "8", "--samples", "2", "--k", "2", "--train-steps", "6", "--train-batch", "4"]
    args += ["--heldout-problems", "16", "--heldout-samples", "2", "--bon-problems", "8", "--bon-n", "4"]
    args += ["--seeds", "0", "1", "--threads", "1", "--root", str(tmp_path / "work"), "--docs", str(tmp_path / "docs")]
    lessons.main(args)
    report = json.loads((tmp_path / "docs" / "prm_lessons.json").read_text())
    assert [r["seed"] for r in report["seeds"]] == [0, 1]
    names = [row["name"] for row in report["seeds"][0]["prms"]]
    assert names == ["exact checker", "ground_truth", "mc_hard", "mc_soft", "judge", "consensus"]
    checker = [r["prms"][0] for r in report["seeds"]]
    assert all(row["step_auc"] == 1.0 for row in checker)
    # the pools differ by seed, the held-out sets do not
    pools = [(tmp_path / "work" / f"seed{s}" / "synth" / "pool.jsonl").read_text() for s in (0, 1)]
    assert pools[0] != pools[1]
    text = (tmp_path / "docs" / "prm_lessons_table.md").read_text()
    assert "Seeds 0, 1" in text and "| exact checker | 100.0 [100.0, 100.0] |" in text
    assert (tmp_path / "docs" / "prm_lessons.png").stat().st_size > 10_000
    stamp = (tmp_path / "work" / "seed1" / "evaluation.json").stat().st_mtime_ns
    lessons.main(args)  # resumes: every seed's evaluation is read back, nothing retrained
    assert (tmp_path / "work" / "seed1" / "evaluation.json").stat().st_mtime_ns == stamp
    with pytest.raises(SystemExit, match="other settings"):
        lessons.main(["--pool-problems", "9", *args[2:]])


def test_step_auc_to_the_first_error_leaves_later_steps_out():
    from types import SimpleNamespace

    items = [SimpleNamespace(label=1), SimpleNamespace(label=-1)]
    scores = [[0.9, 0.2, 0.8], [0.7, 0.6]]
    # right 0.9, 0.7, 0.6 against the first error 0.2: every pair ordered
    assert lessons._step_auc(items, scores) == 1.0
    # the step after the error (0.8) counts as wrong too: 0.9 beats it, 0.7 and 0.6 do not
    assert lessons._step_auc(items, scores, to_first_error=False) == pytest.approx(4 / 6)
