"""PRM data synthesis in the simulated world, where every step's truth is known."""

import json
import os

import pytest

from infscale.experiments.app.build import load
from infscale.experiments.training.prm_synth import SynthSettings, consensus_stage, sample_pool, synthesize
from infscale.rewards.eval import processbench
from infscale.rewards.eval.data import load_items
from infscale.rewards.eval.scoring import model_scores
from infscale.rewards.synth.agreement import agreement, rates, step_labels
from infscale.rewards.synth.judge import CheckerJudge
from infscale.rewards.synth.mc import GIVEN, MCEstimation, mc_labels
from infscale.search.engine import Engine
from infscale.search.node import Tree

TASK = load("task", "simulated", n=30, seed=5)
PROBLEMS = TASK.problems()


def engine(step_error=0.15, seed=0, max_batch=256, spread=1.5):
    return Engine(
        TASK,
        load("policy", "simulated", step_error=step_error, difficulty_spread=spread),
        None,
        seed=seed,
        max_batch=max_batch,
    )


@pytest.fixture(scope="module")
def pool():
    return sample_pool(engine(), PROBLEMS, SynthSettings(samples=4))


def test_mc_labels_hand_built_tree():
    problem = PROBLEMS[0]
    truth = [
        str(v)
        for v in __import__("infscale.tasks.simulated", fromlist=["parse_prompt"])
        .parse_prompt(problem.prompt)[0]
        .truth()
    ]
    tree = Tree(problem)
    a = tree.add_child(tree.root, text="Step 1: v=1 #3\n", tokens=None, finish=GIVEN)
    b = tree.add_child(a, text="Step 2: v=2 #3\n", tokens=None, finish=GIVEN)
    end = tree.add_child(b, text=f"Step 3: v={truth[-1]}. The answer is {truth[-1]}. #3", tokens=None, finish=GIVEN)
    for parent, answers in ((a, [truth[-1], "0", "1", "2"]), (b, ["0", "0", "0", "0"])):
        for answer in answers:
            tree.add_child(parent, text="...", tokens=1, finish="end", answer=answer)
    labels = mc_labels(end, problem, TASK, threshold=0.0)
    assert labels.soft == (0.25, 0.0, None) and labels.hard == (True, False, None) and labels.first_error == 1
    assert labels.completions == (4, 4, 0)
    strict = mc_labels(end, problem, TASK, threshold=0.25)
    assert strict.first_error == 0 and strict.hard == (False, None, None)
    with pytest.raises(ValueError, match="mc.threshold"):
        mc_labels(end, problem, TASK, threshold=1.0)


def test_mc_estimation_is_batched_and_independent_of_batching(pool):
    settings = {p.id: [tuple(r["steps"]) for r in pool if r["problem_id"] == p.id] for p in PROBLEMS}
    results = []
    for max_batch in (256, 7):
        eng = engine(seed=1, max_batch=max_batch)
        outcomes = list(
            eng.run(PROBLEMS, MCEstimation(task=TASK, k=5, solutions=settings, stop_at_first_negative=False))
        )
        labels = [mc_labels(end, o.problem, TASK).soft for o in outcomes for end in o.decision.candidates]
        results.append(labels)
        # shared prefixes are completed once: k completions per distinct prefix
        prefixes = len(
            {(r["problem_id"], tuple(r["steps"][: i + 1])) for r in pool for i in range(len(r["steps"]) - 1)}
        )
        assert prefixes < sum(len(r["steps"]) - 1 for r in pool)
        assert eng.calls["policy_sequences"] == 5 * prefixes
        if max_batch == 256:
            # every problem's prefixes packed together: 51 requests of n=5 per call of 256
            assert eng.calls["policy"] == -(-prefixes // 51)
    assert results[0] == results[1] and len(results[0]) == len(pool)
    eng = engine(seed=1)
    outcomes = list(eng.run(PROBLEMS, MCEstimation(task=TASK, k=5, solutions=settings)))
    early = [mc_labels(end, o.problem, TASK).soft for o in outcomes for end in o.decision.candidates]
    # depth by depth, stopping at the first negative: the same labels for far fewer completions
    assert early == results[0] and eng.calls["policy_sequences"] < 5 * prefixes


def test_pipeline_agreement_and_resume(tmp_path, pool):
    settings = SynthSettings(samples=4, k=4, miss_rate=0.1, false_alarm_rate=0.05)
    report = synthesize(tmp_path, TASK, PROBLEMS, engine(), engine(seed=1), settings)
    mc, judge, kept = (report["agreement"][k] for k in ("mc", "judge", "consensus"))
    assert report["n_pool"] == len(pool)
    # a noisy completer makes false negatives; the simulated world's mistakes rarely cancel
    assert 0 < mc["mc_raw"]["false_negative_rate"] < 0.5 and mc["first_error_agreement"] < 1.0
    assert 0 < report["kept_share"] < 1
    assert kept["first_error_agreement"] > max(mc["first_error_agreement"], judge["first_error_agreement"])
    for name in ("mc", "judge", "consensus"):
        items = load_items(str(tmp_path / f"{name}.jsonl"))
        assert items and all(i.extra["provenance"]["stage"] == name for i in items)
    stamp = os.stat(tmp_path / "mc.jsonl").st_mtime_ns
    assert synthesize(tmp_path, TASK, PROBLEMS, engine(), engine(seed=1), settings) == report
    assert os.stat(tmp_path / "mc.jsonl").st_mtime_ns == stamp
    with pytest.raises(ValueError, match="other settings"):
        synthesize(tmp_path, TASK, PROBLEMS, engine(), engine(seed=1), SynthSettings(samples=4, k=2))


def test_flawless_completer_recovers_truth(tmp_path):
    report = synthesize(
        tmp_path,
        TASK,
        PROBLEMS[:10],
        engine(),
        engine(step_error=1e-9, spread=0.0, seed=1),
        SynthSettings(samples=4, k=2, miss_rate=0.0, false_alarm_rate=0.0),
    )
    for name in ("mc", "judge", "consensus"):
        assert report["agreement"][name]["first_error_agreement"] == 1.0
    assert report["kept_share"] == 1.0


def test_checker_judge_error_rates(pool):
    problems = {p.id: p for p in PROBLEMS}
    judge = CheckerJudge(miss_rate=0.3, false_alarm_rate=0.2, seed=4)
    verdicts, truth = [], []
    for r in pool:
        verdicts.append(judge.verdicts(TASK, problems[r["problem_id"]], r["steps"], r["id"]))
        truth.append(step_labels(r["gt_label"], len(r["steps"])))
    measured = rates(verdicts, truth)
    assert measured["false_negative_rate"] == pytest.approx(0.2, abs=0.05)
    assert measured["false_positive_rate"] == pytest.approx(0.3, abs=0.1)
    with pytest.raises(ValueError, match="judge.miss_rate"):
        CheckerJudge(miss_rate=1.5)


def test_consensus_keeps_agreeing_labels_only():
    mc = [
        {"id": "a", "label": 1, "provenance": {}},
        {"id": "b", "label": -1, "provenance": {}},
        {"id": "c", "label": 0, "provenance": {}},
    ]
    judged = [{"id": "a", "label": 1}, {"id": "b", "label": -1}, {"id": "c", "label": 2}]
    assert [r["id"] for r in consensus_stage(mc, judged)] == ["a", "b"]
    with pytest.raises(ValueError, match="no judge label"):
        consensus_stage(mc, judged[:2])


def test_agreement_hand_computed():
    records = [{"steps": ["x"] * 3, "label": 1, "gt_label": 1}, {"steps": ["x"] * 2, "label": -1, "gt_label": 0}]
    report = agreement(records)
    # steps: [T, F, F] vs [T, F, F]; [T, T] vs [F, F] -> 1 of 2 first errors, 3/5 steps right
    assert report["first_error_agreement"] == 0.5 and report["step_accuracy"] == 0.6
    assert report["false_negative_rate"] == 0.0 and report["false_positive_rate"] == 0.5
    assert agreement([{"steps": ["x"], "label": 0, "gt_label": None}]) is None


def test_pool_is_a_step_labelled_set_that_a_perfect_prm_aces(tmp_path, pool):
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in pool))
    items = load_items(str(path))
    subsets = {"sim": ([i.label for i in items], None)}
    perfect = load(
        "reward", "simulated", correct={"dist": "const", "value": 1.0}, wrong={"dist": "const", "value": 0.0}
    )
    subsets["sim"] = (subsets["sim"][0], model_scores(items, perfect))
    assert processbench.evaluate(subsets, 0.5)["avg_f1"] == 1.0
    noisy = load(
        "reward", "simulated", correct={"dist": "beta", "a": 4, "b": 2}, wrong={"dist": "beta", "a": 2, "b": 4}
    )
    f1 = processbench.evaluate({"sim": (subsets["sim"][0], model_scores(items, noisy))}, 0.5)["avg_f1"]
    assert 0.1 < f1 < 0.9


def test_training_examples_cut_after_first_negative():
    from infscale.experiments.training.synth_prm import training_examples

    record = {
        "id": "x",
        "problem": "1 +1\n",
        "steps": ["a\n", "b\n", "c\n", "d"],
        "label": 1,
        "gt_label": 2,
        "mc_soft": [0.5, 0.0, 0.25, 0.0],
    }
    assert training_examples([record], "mc_hard")[0]["targets"] == [1.0, 0.0]
    assert training_examples([record], "mc_soft")[0] == {
        "prompt": "1 +1\n",
        "steps": ["a\n", "b\n"],
        "targets": [0.5, 0.0],
    }
    assert training_examples([record], "ground_truth")[0]["targets"] == [1.0, 1.0, 0.0]
    assert training_examples([{**record, "label": -1}], "judge")[0]["targets"] == [1.0] * 4
    with pytest.raises(ValueError, match="unknown label set"):
        training_examples([record], "oracle")


def test_soft_target_loss_is_cross_entropy_for_hard_targets():
    import torch
    from transformers import Qwen2Config

    from infscale.experiments.training.synth_prm import SoftTargetPRM, collate
    from infscale.rewards.qwen2_prm import Qwen2ForProcessRewardModel

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=20,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    prm = Qwen2ForProcessRewardModel(config)
    rows = [([1, 2, 3, 4], [-1.0, 1.0, -1.0, 0.0]), ([5, 6, 7], [-1.0, -1.0, 1.0])]
    batch = collate(rows, pad=0)
    soft = SoftTargetPRM(prm)(**batch).loss
    labels = torch.where(batch["targets"] < 0, -100, batch["targets"].long())
    hard = prm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).loss
    assert float(soft) == pytest.approx(float(hard), rel=1e-5)
    half = collate([([1, 2], [-1.0, 0.5])], pad=0)
    logits = prm(input_ids=half["input_ids"], attention_mask=half["attention_mask"]).logits[0, 1]
    expected = -0.5 * torch.log_softmax(logits, -1).sum()
    assert float(SoftTargetPRM(prm)(**half).loss) == pytest.approx(float(expected), rel=1e-5)
