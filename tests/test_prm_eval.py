"""ProcessBench metrics, tau fitting, diagnostics and `infscale-prm-eval` on hand-built sets."""

import json
import os
import random
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from infscale.experiments.app import resolvers
from infscale.experiments.app.prm_eval import evaluate_prm
from infscale.rewards.eval import diagnostics, processbench
from infscale.rewards.eval.data import load_items
from infscale.rewards.eval.scoring import model_scores, saved_scores
from infscale.search.backends import RewardModel

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]

# Hand-computed at tau = 0.5 (a score equal to tau passes):
#   gsm:  predictions 1, 1, -1, -1, 1 for labels 1, 2, -1, -1, 0 -> acc_err 1/3, acc_cor 1, F1 1/2
#   math: predictions 0, 0, -1 for labels 0, -1, -1              -> acc_err 1, acc_cor 1/2, F1 2/3
#   only_err: no correct item -> F1 null, left out of the average  -> avg_f1 7/12
FIXTURE = [
    {"id": "g1", "subset": "gsm", "label": 1, "s": [0.9, 0.3, 0.2], "final_answer_correct": True},
    {"id": "g2", "subset": "gsm", "label": 2, "s": [0.8, 0.4, 0.1], "final_answer_correct": True},
    {"id": "g3", "subset": "gsm", "label": -1, "s": [0.9, 0.7], "final_answer_correct": True},
    {"id": "g4", "subset": "gsm", "label": -1, "s": [0.6, 0.5], "final_answer_correct": True},
    {"id": "g5", "subset": "gsm", "label": 0, "s": [0.5, 0.1], "final_answer_correct": False},
    {"id": "m1", "subset": "math", "label": 0, "s": [0.2]},
    {"id": "m2", "subset": "math", "label": -1, "s": [0.4, 0.9]},
    {"id": "m3", "subset": "math", "label": -1, "s": [0.95, 0.99, 0.7]},
    {"id": "e1", "subset": "only_err", "label": 0, "s": [0.1, 0.8]},
]


def write_fixture(path: Path, rows=FIXTURE, **change) -> Path:
    lines = []
    for row in rows:
        record = {
            "id": row["id"],
            "subset": row["subset"],
            "problem": f"problem {row['id']}",
            "steps": [f"step {k}\n" for k in range(len(row["s"]))],
            "label": row["label"],
            "step_scores": row["s"],
        }
        if "final_answer_correct" in row:
            record["final_answer_correct"] = row["final_answer_correct"]
        record.update(change.get(row["id"], {}))
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


def prm_config(*overrides):
    resolvers.register()
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        return compose(config_name="prm_eval", overrides=list(overrides))


def grouped(rows=FIXTURE):
    out = {}
    for row in rows:
        labels, scores = out.setdefault(row["subset"], ([], []))
        labels.append(row["label"])
        scores.append(row["s"])
    return out


def test_predict_first_error_ties_pass():
    assert processbench.predict_first_error([0.9, 0.5, 0.49], 0.5) == 2
    assert processbench.predict_first_error([0.5, 0.5], 0.5) == -1
    assert processbench.predict_first_error([0.2], 0.5) == 0


def test_hand_computed_metrics():
    with pytest.warns(UserWarning, match="only_err.*no correct items"):
        report = processbench.evaluate(grouped(), 0.5)
    gsm, math, only = (report["subsets"][k] for k in ("gsm", "math", "only_err"))
    assert (gsm["acc_err"], gsm["acc_cor"], gsm["f1"], gsm["n"]) == (pytest.approx(1 / 3), 1.0, pytest.approx(0.5), 5)
    assert (math["acc_err"], math["acc_cor"], math["f1"]) == (1.0, 0.5, pytest.approx(2 / 3))
    assert only["f1"] is None and only["acc_cor"] is None and only["acc_err"] == 1.0
    assert report["avg_f1"] == pytest.approx(7 / 12)


def test_subset_without_erroneous_items_has_no_f1():
    m = processbench.subset_metrics([-1, -1], [-1, 0])
    assert m["acc_err"] is None and m["acc_cor"] == 0.5 and m["f1"] is None
    assert processbench.subset_metrics([0, -1], [1, 0])["f1"] == 0.0


def test_fit_tau_hand_computed():
    # gsm items are right for tau in (0.3, 0.9], (0.1, 0.4], <= 0.7, <= 0.5, > 0.5: the best
    # cut (F1 0.8) is (0.3, 0.4], whose midpoint candidate is 0.35.
    tau = processbench.fit_tau({"gsm": grouped()["gsm"]})
    assert tau == pytest.approx(0.35)
    assert processbench.evaluate({"gsm": grouped()["gsm"]}, tau)["avg_f1"] == pytest.approx(0.8)


def test_fit_tau_matches_brute_force():
    rng = random.Random(7)
    for _ in range(20):
        subsets = {}
        for name in ("a", "b"):
            labels, scores = [], []
            for _ in range(rng.randint(3, 12)):
                steps = rng.randint(1, 5)
                scores.append([round(rng.random(), 2) for _ in range(steps)])
                labels.append(rng.choice([-1, rng.randrange(steps)]))
            labels[0], labels[1] = -1, 0
            subsets[name] = (labels, scores)
        tau = processbench.fit_tau(subsets)
        values = sorted({v for _, s in subsets.values() for x in s for v in x})
        grid = [values[0] - 1] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            best = max(processbench.evaluate(subsets, t)["avg_f1"] for t in grid)
            assert processbench.evaluate(subsets, tau)["avg_f1"] == pytest.approx(best)


def test_diagnostics_hand_computed():
    scores = [row["s"] for row in FIXTURE]
    # strict minimum on the last step: g1 g2 g3 g4 g5 m3 yes, m2 e1 no, m1 has one step
    assert diagnostics.min_on_last_share(scores) == {"share": 0.75, "n": 8}
    assert diagnostics.min_on_last([0.3, 0.3]) is False
    wp = diagnostics.wrong_process(
        [r["label"] for r in FIXTURE], [r.get("final_answer_correct") for r in FIXTURE], scores, 0.5
    )
    # right answers g1-g4; wrong process g1 (flagged at 1 = label) and g2 (flagged at 1, label 2)
    assert wp == {"n_right_answer": 4, "n_wrong_process": 2, "share": 0.5, "caught": 1.0, "caught_at_first_error": 0.5}


def test_evaluate_prm_replay_report(tmp_path):
    path = write_fixture(tmp_path / "set.jsonl")
    report = evaluate_prm(prm_config(f"data.path={path}", "reward=replay", "tau=0.5"))
    assert report["avg_f1"] == pytest.approx(7 / 12) and report["tau"] == 0.5
    assert report["subsets"]["gsm"]["f1"] == pytest.approx(0.5)
    assert report["diagnostics"]["wrong_process"]["share"] == 0.5
    assert any("only_err" in w for w in report["warnings"]) and report["bon"] is None


def test_fit_on_named_subset_holds_it_out(tmp_path):
    path = write_fixture(tmp_path / "set.jsonl")
    report = evaluate_prm(prm_config(f"data.path={path}", "tau=fit", "fit_split=gsm"))
    assert report["tau"] == pytest.approx(0.35) and report["tau_fitted_on"] == "gsm"
    assert set(report["subsets"]) == {"math", "only_err"}
    assert report["subsets"]["math"]["f1"] == 1.0 and report["avg_f1"] == 1.0


def test_folder_of_files_names_subsets(tmp_path):
    folder = tmp_path / "bench"
    folder.mkdir()
    rows = [{**r, "subset": ""} for r in FIXTURE]
    write_fixture(folder / "gsm8k.jsonl", rows[:5])
    write_fixture(folder / "math.jsonl", rows[5:8])
    items = load_items(str(folder))
    assert [i.subset for i in items] == ["gsm8k"] * 5 + ["math"] * 3


@pytest.mark.parametrize(
    "change, message",
    [
        ({"g3": {"label": 2}}, "set.jsonl:3: label 2 out of range for 2 steps"),
        ({"g2": {"steps": []}}, "set.jsonl:2: 'steps' is empty"),
        ({"m1": {"step_scores": []}}, "set.jsonl:6: reward 'replay' returned 0 scores for 1 steps"),
        ({"g4": {"step_scores": [0.5, 1.5]}}, "set.jsonl:4: reward 'replay' gave a score outside"),
    ],
)
def test_bad_input_names_the_line(tmp_path, change, message):
    path = write_fixture(tmp_path / "set.jsonl", **change)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        evaluate_prm(prm_config(f"data.path={path}"))


class ShortPRM(RewardModel):
    """A broken PRM: drops the last step's score."""

    name, spec, outcome = "short", None, False

    def score(self, requests):
        return [[0.9] * (len(r.steps) - 1) for r in requests]


def test_prm_returning_fewer_scores_names_the_line(tmp_path):
    items = load_items(str(write_fixture(tmp_path / "set.jsonl")))
    with pytest.raises(ValueError, match=r"set.jsonl:1: reward 'short' returned 2 scores for 3 steps"):
        model_scores(items, ShortPRM(), batch_size=4)


def test_saved_logits_through_sigmoid(tmp_path):
    rows = [{"id": "a", "subset": "s", "label": -1, "s": [0.0, -2.0]}]
    items = load_items(str(write_fixture(tmp_path / "set.jsonl", rows)))
    assert saved_scores(items, "sigmoid")[0] == pytest.approx([0.5, 0.11920292])
    with pytest.raises(ValueError, match="set.jsonl:1: reward 'replay' gave a score outside"):
        saved_scores(items, "none")


@pytest.mark.slow
def test_cli_writes_report_and_errors_cleanly(tmp_path):
    path = write_fixture(tmp_path / "set.jsonl")
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    out = tmp_path / "run"
    done = subprocess.run(
        [str(BIN / "infscale-prm-eval"), f"data.path={path}", "reward=replay", "tau=0.5", f"hydra.run.dir={out}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["avg_f1"] == pytest.approx(7 / 12)
    assert report["data"] == [str(path)]  # issue 16: was the path split into characters
    assert "average F1" in done.stdout and "58.3" in done.stdout
    bad = write_fixture(tmp_path / "bad.jsonl", g2={"label": 3})
    done = subprocess.run(
        [str(BIN / "infscale-prm-eval"), f"data.path={bad}", f"hydra.run.dir={tmp_path / 'bad'}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "bad.jsonl:2: label 3 out of range" in done.stderr
    assert not (tmp_path / "bad" / "report.json").exists()


def test_best_of_n_half_on_the_simulated_world(tmp_path):
    report = evaluate_prm(
        prm_config(
            "task=simulated", "policy=simulated", "reward=sim_perfect", "bon.n=4", "bon.n_problems=40", "task.n=40"
        )
    )
    bon = report["bon"]
    assert bon["n_problems"] == 40 and bon["n"] == 4
    # a perfect verifier with min aggregation picks a right solution whenever there is one
    assert bon["accuracy"]["best_min"]["accuracy"] == bon["pass_at_n"]
    assert bon["accuracy"]["best_min"]["accuracy"] >= bon["accuracy"]["majority"]["accuracy"]
    assert set(bon["accuracy"]) == {f"{s}_{a}" for s in ("best", "weighted") for a in ("min", "last", "prod")} | {
        "majority"
    }
    assert bon["wrong_process"]["n_right_answer"] > 0 and bon["min_on_last"]["n"] > 0
    assert report["subsets"] == {} and report["avg_f1"] is None
    again = evaluate_prm(
        prm_config(
            "task=simulated", "policy=simulated", "reward=sim_perfect", "bon.n=4", "bon.n_problems=40", "task.n=40"
        )
    )
    assert again["bon"] == bon


def test_nothing_to_evaluate_is_an_error():
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate_prm(prm_config())
    with pytest.raises(ValueError, match="needs a policy"):
        evaluate_prm(prm_config("task=simulated", "reward=sim_perfect"))


@pytest.mark.slow
def test_cli_runs_best_of_n_inside_its_hydra_app(tmp_path):
    # the README's `infscale-prm-eval ... task=... policy=... bon.n=8` stopped with "GlobalHydra is
    # already initialized": Best-of-N composed its strategy with a second Hydra initialisation
    out = tmp_path / "run"
    world = ["task=simulated", "policy=simulated", "reward=sim_perfect", "task.n=6", "bon.n=2", "bon.n_problems=6"]
    done = subprocess.run(
        [str(BIN / "infscale-prm-eval"), *world, f"hydra.run.dir={out}"],
        cwd=REPO,
        env={**os.environ, "HYDRA_FULL_ERROR": "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    bon = json.loads((out / "report.json").read_text())["bon"]
    assert bon["n_problems"] == 6 and bon["n"] == 2
