"""Train and measure the `toy_sum` ladder on one GPU: three policies spanning ~30x in
parameters, a PRM the size of the largest and one the size of the smallest.

    python -m infscale.experiments.training.ladder --work /tmp/ladder --out OUT --device cuda

Phases (each skipped when its outputs exist in `--work`, so a cut run resumes):

1. data: `--data-rows` training sequences of `toy_sum` (levels in turn, each solved along a
   uniformly random legal path; no injected errors), from seed TRAIN_SEED_BASE;
2. policies: the three sizes train side by side (one process each) on the same data and
   schedule, saving checkpoints at the same steps;
3. selection (task seed 1, never used for the final numbers): for each common checkpoint
   step, greedy and 16 samples at temperature 0.7; the latest step at which every size
   has majority@16 >= greedy + 0.05 and one sample < greedy and the sizes are ordered
   (else the step meeting most of these) is kept; then each size's temperature is chosen
   from `--temperatures` by majority@16 on the same seed;
4. PRM data: each kept policy samples 8 solutions at its temperature and one greedy per
   problem (seed TRAIN_SEED_BASE + 1); the checker labels every step (first-error
   convention); wrong solutions whose answer is the policy's own majority answer, and wrong
   greedy solutions (its confident mistakes), are repeated `--hard-repeat` times;
5. PRMs: Qwen2 backbones with Qwen2.5-Math-PRM's head, initialised from the largest and the
   smallest policy, trained side by side; every `--val-every` steps both step AUC and
   best-of-16 / weighted@16 on a validation set (seed TRAIN_SEED_BASE + 2) are measured, and
   the checkpoint with the highest AUC + mean best-of-16 accuracy is kept;
6. evaluation on task seed 0 (held out from all of the above): per policy greedy and 64
   samples at its temperature; majority, PRM-weighted and PRM best-of-N at n = 1..64 with
   each PRM; step AUC of each PRM on each policy's samples.

Outputs under `--out`: `ladder_report.json`, `ladder_policies.tar`, `ladder_prms.tar`
(Hugging Face folders: safetensors, config), `ladder_test_samples.json.gz`, `ladder_log.txt`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infscale.experiments.stats import labelled_auc
from infscale.experiments.training import ladder_ops as ops
from infscale.experiments.training import loop
from infscale.experiments.training.ladder_metrics import answer_entropy, policy_summary, selection_curves
from infscale.experiments.training.ladder_ops import POLICIES, PRMS, SELECTION_SEED, TEST_SEED, architecture
from infscale.experiments.training.loop import LoopSettings, Schedule
from infscale.tasks.toy_arith import TRAIN_SEED_BASE

POLICY_WARMUP = 200


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---- phase 1 -------------------------------------------------------------------------


def make_data(work: Path, rows: int, width: int = 128) -> None:
    if (work / "data.npy").exists():
        return
    chunk = 20_000
    jobs = [(TRAIN_SEED_BASE, first, min(chunk, rows - first), width) for first in range(0, rows, chunk)]
    with Pool(max(1, (os.cpu_count() or 2) - 1)) as pool:
        blocks = pool.map(ops.training_block, jobs)
    np.save(work / "data.npy", np.concatenate(blocks))
    log(f"data: {rows} sequences")


# ---- phase 2: one policy per process --------------------------------------------------


def train_policy(name: str, work: Path, device: str, args: argparse.Namespace) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.backends.cuda.matmul.allow_tf32 = True
    data = torch.from_numpy(np.load(work / "data.npy")).to(device)
    order = ops.EpochOrder(len(data), args.batch, seed=0, device=device)
    peak, folder, losses = POLICIES[name]["lr"], work / name, []

    def on_step(model: torch.nn.Module, done: int, loss: torch.Tensor, last: bool) -> None:
        if done % 50 == 0:
            losses.append((done, float(loss.detach())))
        if done in args.checkpoints or last:
            model.save_pretrained(str(folder / f"step_{done}"), safe_serialization=True)

    settings = LoopSettings(
        Schedule(peak, args.policy_steps, POLICY_WARMUP), seconds=args.policy_seconds, progress=False, name=name
    )
    result = loop.train(
        lambda: LlamaForCausalLM(LlamaConfig(**architecture(name))).to(device),
        lambda step: ops.policy_batch(data[order(step)]),
        settings,
        on_step,
    )
    info = {"steps": result.steps, "seconds": round(result.seconds, 1), "losses": losses, "lr": peak}
    (folder / "train.json").write_text(json.dumps(info) + "\n")


# ---- phase 3 -------------------------------------------------------------------------


def measure(model: torch.nn.Module, probs: list, n: int, temperature: float, seed: int) -> dict[str, Any]:
    prompts, refs = [p.prompt for p in probs], [p.reference for p in probs]
    greedy = [ops.label(p, t[0]) for p, t in zip(probs, ops.sample(model, prompts, 1, 0.0, seed))]
    texts = ops.sample(model, prompts, n, temperature, seed + 1)
    records = [[ops.label(p, t) for t in ts] for p, ts in zip(probs, texts)]
    return {**policy_summary(greedy, records, refs), "distinct_answers": answer_entropy(records)}


def conditions(rows: dict[str, dict[str, Any]]) -> int:
    """How many of the ladder's targets a set of per-size results meets."""
    names = list(POLICIES)
    met = sum(r["majority@16"] >= r["greedy"] + 0.05 for r in rows.values())
    met += sum(r["one_sample"] < r["greedy"] for r in rows.values())
    for small, large in zip(names, names[1:]):
        met += rows[large]["one_sample"] > rows[small]["one_sample"]
        met += rows[large]["majority@16"] > rows[small]["majority@16"]
    return met


def select(work: Path, device: str, args: argparse.Namespace, report: dict[str, Any]) -> dict[str, Any]:
    from transformers import LlamaForCausalLM

    probs = ops.problems(SELECTION_SEED, args.select_problems)
    steps = sorted(
        set.intersection(*[{int(p.name[5:]) for p in (work / n).glob("step_*")} for n in POLICIES]), reverse=True
    )
    if not steps:
        raise SystemExit(f"no checkpoint step was reached by every policy: see {work}/*/train.json")
    table: dict[int, dict[str, Any]] = {}
    for step in steps:
        table[step] = {}
        for name in POLICIES:
            model = LlamaForCausalLM.from_pretrained(str(work / name / f"step_{step}")).to(device).eval()
            table[step][name] = measure(model, probs, args.samples, 0.7, 11)
        log(f"select step {step}: {json.dumps(table[step])}")
    full = 4 * len(POLICIES) - 2
    best = max(steps, key=lambda s: (conditions(table[s]) == full, conditions(table[s]), s))
    sweep: dict[str, dict[str, Any]] = {}
    chosen: dict[str, float] = {}
    for name in POLICIES:
        model = LlamaForCausalLM.from_pretrained(str(work / name / f"step_{best}")).to(device).eval()
        sweep[name] = {str(t): measure(model, probs, args.samples, t, 13) for t in args.temperatures}
        chosen[name] = max(args.temperatures, key=lambda t: (sweep[name][str(t)]["majority@16"], -t))
        log(f"temperature sweep {name}: {json.dumps(sweep[name])} -> {chosen[name]}")
    report["selection"] = {
        "task_seed": SELECTION_SEED,
        "problems": len(probs),
        "by_step_at_t0.7": {str(s): v for s, v in table.items()},
        "conditions_met": {str(s): conditions(v) for s, v in table.items()},
        "chosen_step": best,
        "temperature_sweep": sweep,
        "temperature": chosen,
    }
    return {"step": best, "temperature": chosen}


# ---- phase 4 -------------------------------------------------------------------------


def make_prm_data(work: Path, device: str, args: argparse.Namespace, kept: dict[str, Any], report: dict) -> None:
    from transformers import LlamaForCausalLM

    from infscale.experiments.training import ladder_prm

    if (work / "prm_data.pt").exists():
        return
    train_probs = ops.problems(ladder_prm.PRM_TRAIN_SEED, args.prm_problems)
    val_probs = ops.problems(ladder_prm.PRM_VAL_SEED, args.select_problems)
    by_policy, val = {}, {"problems": val_probs, "policies": {}}
    for name in POLICIES:
        model = LlamaForCausalLM.from_pretrained(str(work / "kept" / name)).to(device).eval()
        t = kept["temperature"][name]
        by_policy[name] = ladder_prm.policy_samples(model, train_probs, args.prm_samples, t, 21)
        val["policies"][name] = ladder_prm.policy_samples(model, val_probs, args.samples, t, 23)
    rows, counts = ladder_prm.build_rows(train_probs, by_policy, args.hard_repeat)
    ids, labels = ladder_prm.padded(rows)
    torch.save({"ids": ids, "labels": labels, "val": val}, work / "prm_data.pt")
    report["prm_data"] = {"problems": len(train_probs), "samples_per_policy": args.prm_samples, **counts}
    log(f"PRM data: {json.dumps(report['prm_data'])}")


# ---- phase 6 -------------------------------------------------------------------------


def evaluate(work: Path, device: str, args: argparse.Namespace, kept: dict[str, Any], out: Path) -> dict[str, Any]:
    from transformers import LlamaForCausalLM

    from infscale.rewards.qwen2_prm import Qwen2ForProcessRewardModel

    probs = ops.problems(TEST_SEED, args.test_problems)
    refs = [p.reference for p in probs]
    prms = {name: Qwen2ForProcessRewardModel.from_pretrained(str(work / name)).to(device).eval() for name in PRMS}
    ns = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= args.test_samples]
    result: dict[str, Any] = {"task_seed": TEST_SEED, "problems": len(probs), "samples": args.test_samples}
    dump = {}
    for name in POLICIES:
        model = LlamaForCausalLM.from_pretrained(str(work / "kept" / name)).to(device).eval()
        t = kept["temperature"][name]
        prompts = [p.prompt for p in probs]
        greedy = [ops.label(p, x[0]) for p, x in zip(probs, ops.sample(model, prompts, 1, 0.0, 31))]
        texts = ops.sample(model, prompts, args.test_samples, t, 32)
        records = [[ops.label(p, x) for x in xs] for p, xs in zip(probs, texts)]
        row: dict[str, Any] = {"temperature": t, **policy_summary(greedy, records, refs)}
        row["majority"] = selection_curves(records, refs, ns)["majority"]
        row["by_level"] = {}
        for level in (1, 2, 3, 4):
            at = [k for k, p in enumerate(probs) if p.level == level]
            row["by_level"][level] = policy_summary(
                [greedy[k] for k in at], [records[k] for k in at], [refs[k] for k in at]
            )
        items = [(p.prompt, r["steps"]) for p, rs in zip(probs, records) for r in rs]
        flat_labels = [ok for rs in records for r in rs for ok in r["labels"]]
        row["prm"] = {}
        for prm_name, prm in prms.items():
            scores = ops.prm_scores(prm, items)
            n = args.test_samples
            per_problem = [scores[k * n : (k + 1) * n] for k in range(len(probs))]
            curves = selection_curves(records, refs, ns, per_problem)
            row["prm"][prm_name] = {
                "step_auc": labelled_auc([s for r in scores for s in r], flat_labels),
                "weighted": curves["weighted"],
                "best": curves["best"],
            }
        result[name] = row
        dump[name] = {"greedy": [g["answer"] for g in greedy], "texts": texts}
        log(f"test {name}: {json.dumps({k: v for k, v in row.items() if k not in ('by_level', 'prm', 'majority')})}")
    with gzip.open(out / "ladder_test_samples.json.gz", "wt") as handle:
        json.dump({"task_seed": TEST_SEED, "prompts": [p.prompt for p in probs], "policies": dump}, handle)
    return result


def pack(out: Path, name: str, folders: dict[str, Path]) -> None:
    with tarfile.open(out / name, "w") as tar:
        for arcname, folder in folders.items():
            tar.add(str(folder), arcname=arcname)


def spawn(argv: list[str], role: str, name: str) -> subprocess.Popen:
    """A worker process for one model, with the main run's flags."""
    return subprocess.Popen(
        [sys.executable, "-m", "infscale.experiments.training.ladder", *argv, "--worker", role, name]
    )


def wait_all(processes: list[subprocess.Popen], what: str) -> None:
    codes = [p.wait() for p in processes]
    if any(codes):
        raise SystemExit(f"{what} failed: exit codes {codes}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data-rows", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--policy-steps", type=int, default=8000)
    parser.add_argument("--policy-seconds", type=float, default=150)
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[250, 500, 1000, 2000, 4000, 8000])
    parser.add_argument("--select-problems", type=int, default=100, help="per level")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.3, 0.5, 0.7, 1.0])
    parser.add_argument("--prm-problems", type=int, default=1500, help="per level")
    parser.add_argument("--prm-samples", type=int, default=8)
    parser.add_argument("--hard-repeat", type=int, default=3)
    parser.add_argument("--prm-lr", type=float, default=3e-4)
    parser.add_argument("--prm-batch", type=int, default=256)
    parser.add_argument("--prm-steps", type=int, default=3000)
    parser.add_argument("--prm-seconds", type=float, default=70)
    parser.add_argument("--val-every", type=int, default=300)
    parser.add_argument("--test-problems", type=int, default=200, help="per level")
    parser.add_argument("--test-samples", type=int, default=64)
    parser.add_argument("--worker", nargs=2, default=None, metavar=("ROLE", "NAME"))
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.worker is not None:
        role, name = args.worker
        if role == "policy":
            train_policy(name, args.work, args.device, args)
        else:
            from infscale.experiments.training.ladder_prm import train_prm

            train_prm(name, PRMS[name], args.work, args.device, args)
        return
    report_path = args.out / "ladder_report.json"
    report: dict[str, Any] = json.loads(report_path.read_text()) if report_path.exists() else {}
    report["args"] = {k: str(v) for k, v in vars(args).items()}
    report["device"] = torch.cuda.get_device_name() if args.device == "cuda" else args.device
    save = lambda: report_path.write_text(json.dumps(report, indent=1) + "\n")  # noqa: E731
    make_data(args.work, args.data_rows)
    wait_all([spawn(raw, "policy", n) for n in POLICIES if not (args.work / n / "train.json").exists()], "policies")
    report["policies"] = {
        n: {**POLICIES[n], **json.loads((args.work / n / "train.json").read_text())} for n in POLICIES
    }
    kept_path = args.work / "kept.json"
    if not kept_path.exists():
        kept = select(args.work, args.device, args, report)
        for n in POLICIES:
            shutil.copytree(args.work / n / f"step_{kept['step']}", args.work / "kept" / n, dirs_exist_ok=True)
        kept_path.write_text(json.dumps(kept) + "\n")
        save()
    kept = json.loads(kept_path.read_text())
    pack(args.out, "ladder_policies.tar", {n: args.work / "kept" / n for n in POLICIES})
    make_prm_data(args.work, args.device, args, kept, report)
    save()
    wait_all([spawn(raw, "prm", n) for n in PRMS if not (args.work / f"{n}.train.json").exists()], "PRMs")
    report["prms"] = {n: json.loads((args.work / f"{n}.train.json").read_text()) for n in PRMS}
    pack(args.out, "ladder_prms.tar", {n: args.work / n for n in PRMS})
    save()
    report["test"] = evaluate(args.work, args.device, args, kept, args.out)
    save()
    log("done")


if __name__ == "__main__":
    main()
