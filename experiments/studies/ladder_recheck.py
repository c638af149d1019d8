"""Re-measure the shipped `toy_sum` ladder on CPU through the real backends (`HFPolicy`,
`HFPRM`): greedy, one sample and majority@n per policy at its preset temperature, and each
PRM's step AUC (pooled over the policies' samples and per policy), PRM-weighted voting and
PRM best-of-n, on held-out task seed 0.

    python -m infscale.experiments.studies.ladder_recheck --problems 50 --samples 16

The GPU run (`experiments/training/ladder.py`) samples with `generate`; this is the check that the
installed checkpoints give the same picture through the engine's own backends.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from infscale.experiments.stats import draws_summary, labelled_auc, problem_draws
from infscale.experiments.training import ladder_ops as ops
from infscale.experiments.training.ladder_metrics import choose, policy_summary, selection_curves
from infscale.experiments.training.ladder_ops import POLICIES, PRMS, TEST_SEED
from infscale.search.backends import GenerationRequest, ScoreRequest
from infscale.tasks.toy_arith import CHECKPOINTS
from infscale.tasks.toy_sum import ToySumTask


def preset_temperature(name: str) -> float:
    """`temperature` of `conf/policy/<name>.yaml` (the value the held-out sweep chose)."""
    from importlib import resources

    import yaml

    return float(
        yaml.safe_load((resources.files("infscale.conf") / "policy" / f"{name}.yaml").read_text())["temperature"]
    )


def measure(
    problems_per_level: int, samples: int, threads: int = 2, prms: bool = True, device: str = "cpu"
) -> dict[str, Any]:
    from infscale.experiments.app.build import load

    task = ToySumTask(seed=TEST_SEED, level="mixed", n=4 * problems_per_level)
    probs = task.problems()
    refs = [p.reference for p in probs]
    scorers = {name: load("reward", name, batch_size=256, device=device) for name in (PRMS if prms else ())}
    report: dict[str, Any] = {"task_seed": TEST_SEED, "problems": len(probs), "samples": samples}
    pooled: dict[str, tuple[list[float], list[bool]]] = {name: ([], []) for name in scorers}
    for name in POLICIES:
        temperature = preset_temperature(name)
        policy = load("policy", name, max_batch=256, threads=threads, device=device)
        greedy_out = policy.generate([GenerationRequest(p.prompt, 1, "end", "\n", 128, 0.0, 0) for p in probs])
        sampled = policy.generate(
            [GenerationRequest(p.prompt, samples, "end", "\n", 128, temperature, 1000 + i) for i, p in enumerate(probs)]
        )
        greedy = [ops.label(p, r.samples[0].text) for p, r in zip(probs, greedy_out)]
        records = [[ops.label(p, s.text) for s in r.samples] for p, r in zip(probs, sampled)]
        row: dict[str, Any] = {"temperature": temperature, **policy_summary(greedy, records, refs)}
        ns = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= samples]
        row["majority"] = selection_curves(records, refs, ns)["majority"]
        flat = [(p, r) for p, rs in zip(probs, records) for r in rs]
        for prm_name, prm in scorers.items():
            it = iter(prm.score([ScoreRequest(p.prompt, tuple(r["steps"])) for p, r in flat if r["steps"]]))
            per = [[next(it) if r["steps"] else [] for r in rs] for rs in records]
            labels = [ok for rs in records for r in rs for ok in r["labels"]]
            values = [s for rs in per for row_ in rs for s in row_]
            pooled[prm_name][0].extend(values)
            pooled[prm_name][1].extend(labels)
            curves = selection_curves(records, refs, ns, per)
            row[prm_name] = {
                "step_auc": labelled_auc(values, labels),
                "weighted": curves["weighted"],
                "best": curves["best"],
            }
        report[name] = row
    for prm_name, (values, labels) in pooled.items():
        report[f"{prm_name}_pooled_step_auc"] = labelled_auc(values, labels)
    return report


def paired_intervals(samples_file: Path, resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """From the GPU run's `ladder_test_samples.json.gz`: per policy greedy, one sample and
    majority@16 (mean over the 4 disjoint groups of 16 of the 64 samples), and the paired
    differences the ladder's targets name, each with a 95% paired bootstrap interval over
    problems."""
    import gzip

    import numpy as np

    data = json.loads(gzip.open(samples_file, "rt").read())
    probs = [ops.ToySumTask.problem(data["task_seed"], 1 + i % 4, i // 4) for i in range(len(data["prompts"]))]
    if [p.prompt for p in probs] != data["prompts"]:
        raise ValueError(f"{samples_file}: prompts are not the ladder's test problems")
    per: dict[str, dict[str, np.ndarray]] = {}
    for name, run in data["policies"].items():
        right = [[ops.TASK.extract_answer(t) == p.reference for t in texts] for p, texts in zip(probs, run["texts"])]
        answers = [[ops.TASK.extract_answer(t) for t in texts] for texts in run["texts"]]
        majority = [
            np.mean([ops.TASK.is_correct(choose(a[g : g + 16]), p.reference) for g in range(0, len(a) - 15, 16)])
            for p, a in zip(probs, answers)
        ]
        per[name] = {
            "greedy": np.array([g == p.reference for p, g in zip(probs, run["greedy"])], dtype=float),
            "one_sample": np.array([np.mean(r) for r in right]),
            "majority@16": np.array(majority),
        }
    draws = problem_draws(len(probs), resamples, seed)

    def summary(values: np.ndarray) -> list[float]:
        return list(draws_summary(values, draws))

    out: dict[str, Any] = {"problems": len(probs), "resamples": resamples}
    names = list(per)
    for name, v in per.items():
        out[name] = {k: summary(x) for k, x in v.items()}
        out[name]["majority@16 - greedy"] = summary(v["majority@16"] - v["greedy"])
        out[name]["one_sample - greedy"] = summary(v["one_sample"] - v["greedy"])
    for small, large in zip(names, names[1:]):
        for key in ("one_sample", "majority@16"):
            out[f"{large} - {small}: {key}"] = summary(per[large][key] - per[small][key])
    return out


def pooled_auc(
    samples_file: Path, prm: str = "toy_sum_prm", per_problem: int = 16, resamples: int = 200, threads: int = 2
) -> dict[str, Any]:
    """A PRM's step AUC on the GPU run's held-out samples (the first `per_problem` of each
    problem's 64, every policy): pooled over the policies and per policy, each with a 95%
    bootstrap interval over problems (steps of a resampled problem stay together)."""
    import gzip

    import numpy as np
    import torch

    from infscale.experiments.stats import auc
    from infscale.rewards.qwen2_prm import Qwen2ForProcessRewardModel

    torch.set_num_threads(threads)
    data = json.loads(gzip.open(samples_file, "rt").read())
    probs = [ops.ToySumTask.problem(data["task_seed"], 1 + i % 4, i // 4) for i in range(len(data["prompts"]))]
    model = Qwen2ForProcessRewardModel.from_pretrained(str(CHECKPOINTS / prm)).eval()
    scores, labels, owner = {}, {}, {}
    for name, run in data["policies"].items():
        records = [
            (k, ops.label(p, t)) for k, (p, texts) in enumerate(zip(probs, run["texts"])) for t in texts[:per_problem]
        ]
        records = [(k, r) for k, r in records if r["steps"]]
        values = ops.prm_scores(model, [(probs[k].prompt, r["steps"]) for k, r in records], batch=512)
        scores[name] = np.array([v for row in values for v in row])
        labels[name] = np.array([ok for _, r in records for ok in r["labels"]], dtype=bool)
        owner[name] = np.array([k for k, r in records for _ in r["labels"]])
    picks = problem_draws(len(probs), resamples, 0)

    def auc_with_interval(names: list[str]) -> list[float]:
        s = np.concatenate([scores[n] for n in names])
        y = np.concatenate([labels[n] for n in names])
        k = np.concatenate([owner[n] for n in names])
        by_problem = [np.flatnonzero(k == j) for j in range(len(probs))]

        def steps_auc(idx: np.ndarray) -> float:
            return auc(s[idx][y[idx]], s[idx][~y[idx]])

        boot = [steps_auc(np.concatenate([by_problem[j] for j in pick])) for pick in picks]
        return [steps_auc(np.arange(len(s))), float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))]

    out: dict[str, Any] = {"prm": prm, "problems": len(probs), "samples_per_problem": per_problem}
    out["pooled"] = auc_with_interval(list(scores))
    for name in scores:
        out[name] = auc_with_interval([name])
    out["steps"] = {name: int(len(v)) for name, v in labels.items()}
    out["wrong_steps"] = {name: int((~v).sum()) for name, v in labels.items()}
    return out


def headline(run_folder: Path, samples_file: Path, policy: str = "toy_sum_m", n: int = 1) -> dict[str, Any]:
    """An engine run (e.g. toy_sum_xs + REBASE + oracle_toy_sum_prm) against `policy`'s
    majority@n from the GPU run's samples on the same problems, at their `flops.paper`:
    accuracies, paired difference with a 95% bootstrap interval, and mean paper FLOPs (the
    sampled policy's as 2 N x generated tokens, EOS included, as the ledger counts them)."""
    import gzip

    import numpy as np

    from infscale.budgets.model_spec import ModelSpec

    rows = [json.loads(line) for line in (run_folder / "results.jsonl").read_text().splitlines()]
    data = json.loads(gzip.open(samples_file, "rt").read())
    where = {prompt: k for k, prompt in enumerate(data["prompts"])}
    probs = ToySumTask(seed=data["task_seed"], level="mixed", n=len(rows)).problems()
    if [p.id for p in probs] != [r["problem_id"] for r in rows]:
        raise ValueError(f"{run_folder}: results are not the first {len(rows)} problems of toy_sum seed 0")
    texts = [data["policies"][policy]["texts"][where[p.prompt]] for p in probs]
    voted = [
        np.mean(
            [
                ops.TASK.is_correct(choose([ops.TASK.extract_answer(t) for t in ts[g : g + n]]), p.reference)
                for g in range(0, len(ts) - n + 1, n)
            ]
        )
        for p, ts in zip(probs, texts)
    ]
    n_nonembed = ModelSpec.from_config(json.loads((CHECKPOINTS / policy / "config.json").read_text())).n_nonembed
    tokens = np.mean([len(t) + 1 for ts in texts for t in ts])
    run = np.array([float(r["correct"]) for r in rows])
    diff = run - np.array(voted)
    picks = np.random.default_rng(0).integers(0, len(rows), size=(2000, len(rows)))
    boot = diff[picks].mean(axis=1)
    return {
        "problems": len(rows),
        "run_accuracy": float(run.mean()),
        "run_flops_paper": float(np.mean([r["flops"]["paper"] for r in rows])),
        "run_flops_total": float(np.mean([r["flops"]["total"] for r in rows])),
        f"{policy}_majority@{n}": float(np.mean(voted)),
        f"{policy}_flops_paper@{n}": 2.0 * n_nonembed * tokens * n,
        "difference": [float(diff.mean()), float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-samples", type=Path, default=None, help="paired intervals from a GPU run's samples")
    parser.add_argument(
        "--headline", type=Path, default=None, help="an engine run folder to set against --from-samples"
    )
    parser.add_argument("--pooled-auc", default=None, help="a PRM's step AUC on --from-samples (e.g. toy_sum_prm)")
    parser.add_argument("--auc-samples", type=int, default=16, help="samples per problem for --pooled-auc")
    parser.add_argument("--problems", type=int, default=50, help="per level")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if args.headline is not None:
        print(json.dumps(headline(args.headline, args.from_samples), indent=1))
        return
    if args.pooled_auc is not None:
        print(
            json.dumps(pooled_auc(args.from_samples, args.pooled_auc, args.auc_samples, threads=args.threads), indent=1)
        )
        return
    if args.from_samples is not None:
        print(json.dumps(paired_intervals(args.from_samples), indent=1))
        return
    print(json.dumps(measure(args.problems, args.samples, args.threads, device=args.device), indent=1))


if __name__ == "__main__":
    main()
