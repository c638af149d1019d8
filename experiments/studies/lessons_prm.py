"""A toy_sum PRM past the crossover? The Lessons recipe on toy_sum_s's own samples (issue 25).

    python -m infscale.experiments.studies.lessons_prm            # every stage; rerun to resume

Fine-tunes the shipped `toy_sum_prm` (training it from scratch is a GPU job, see
`ladder.py`) on data built from the policy the crossover searches with, `toy_sum_s`:

1. synth: toy_sum_s solves `--pool` training problems (seed POOL_SEED) `--samples` times;
   every step gets MC labels (toy_sum_s completes each prefix `--k` times) and the exact
   checker's labels (`CheckerJudge` with no errors); the consensus keeps the solutions on
   whose first error both agree (`prm_synth.synthesize`);
2. tree: REBASE (toy_sum_s + toy_sum_prm, the crossover's preset) on `--tree` training
   problems (seed TREE_SEED); the nodes it scored mid-tree, kept where the checker and the
   tree's own MC estimate agree (`lessons_prm_data.tree_examples`);
3. train: the shipped PRM's confident mistakes among both sets (score >= `--confident`)
   repeated `--hard-repeat` times; a candidate checkpoint every `--save-every` steps,
   training capped at `--seconds`;
4. select: every candidate and the shipped PRM on held-out task seed SELECT_SEED (used by
   nothing else): step AUC on toy_sum_s's solutions, and REBASE n=16 minus PRM-weighted
   sampling at equal `flops.total` (sampling curve from one best-of-64 run, rescored per
   candidate); the candidate with the largest sum is installed under `--name` with a
   model card.

Every finished stage (and each selection candidate) is kept in `--root` and read back on a
rerun; an interrupted training starts over (its time cap makes it unrepeatable anyway).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infscale.experiments.analysis import curves
from infscale.experiments.analysis.crossover import equal_compute_correct
from infscale.experiments.app.build import build, load, load_config
from infscale.experiments.app.store import atomic_write
from infscale.experiments.studies import verifier_auc
from infscale.experiments.studies.prm_lessons import Workspace
from infscale.experiments.training import ladder_ops as ops
from infscale.experiments.training import loop
from infscale.experiments.training.ladder_install import add_tokenizer
from infscale.experiments.training.ladder_prm import padded, row_batches
from infscale.experiments.training.lessons_prm_data import (
    Example,
    hard_negatives,
    pool_examples,
    training_rows,
    tree_examples,
)
from infscale.experiments.training.prm_synth import SynthSettings, synthesize
from infscale.search.backends import ScoreRequest
from infscale.search.records import outcome_record
from infscale.search.selection import aggregate
from infscale.tasks.toy_arith import CHECKPOINTS, TRAIN_SEED_BASE
from infscale.tasks.toy_sum import ToySumTask

# Training seeds not used before: the ladder's policies use TRAIN_SEED_BASE, its PRMs + 1, + 2,
# the PRM lessons' pool + 3. Task seeds 0-5 are taken (ladder test/selection, lessons, crossover).
POOL_SEED, TREE_SEED = TRAIN_SEED_BASE + 10, TRAIN_SEED_BASE + 11
SELECT_SEED = 6
POLICY, SHIPPED = "toy_sum_s", "toy_sum_prm"
SAMPLING_N, SEARCH_N = 64, 16


def crossover_components(*overrides: str) -> Any:
    """Task, engine and strategy as the crossover study's runs build them (toy_sum_s)."""
    cfg = load_config(
        "+experiment=verifier_crossover", f"policy={POLICY}", f"reward={SHIPPED}", "++reward.cache_mb=2048",
        "hydra/launcher=basic", *overrides,
    )  # fmt: skip
    return build(cfg)


def training_problems(seed: int, count: int) -> list:
    return [ToySumTask.problem(seed, 1 + i % 4, i) for i in range(count)]


def scores_of(reward: Any, items: Sequence[tuple[str, Sequence[str]]], batch: int = 256) -> list[list[float]]:
    out: list[list[float]] = []
    for start in range(0, len(items), batch):
        out += reward.score([ScoreRequest(p, tuple(s)) for p, s in items[start : start + batch]])
    return out


def _cached(path: Path, compute) -> Any:
    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(value))
    return value


def pool_stage(root: Path, args: argparse.Namespace) -> tuple[list[Example], dict[str, Any]]:
    task = load("task", "toy_sum")
    settings = SynthSettings(args.samples, args.k, 0.0, 0.0, 0.0, seed=0)
    ws = Workspace(root=root)
    report = synthesize(
        root / "synth", task, training_problems(POOL_SEED, args.pool),
        ws.engine(task, POLICY, 0), ws.engine(task, POLICY, 1000), settings,
    )  # fmt: skip
    kept = [json.loads(line) for line in (root / "synth" / "consensus.jsonl").read_text().splitlines() if line]
    shipped = load("reward", SHIPPED, task=task)
    scores = _cached(
        root / "synth" / "shipped_scores.json", lambda: scores_of(shipped, [(r["problem"], r["steps"]) for r in kept])
    )
    return pool_examples(kept, scores), report


def tree_stage(root: Path, args: argparse.Namespace) -> tuple[list[Example], dict[str, int]]:
    path = root / "tree" / "examples.jsonl"
    if not path.exists():
        parts = crossover_components("strategy=rebase", f"strategy.n={SEARCH_N}")
        examples, counts = [], {"scored": 0, "estimated": 0, "kept": 0}
        for outcome in parts.engine.run(training_problems(TREE_SEED, args.tree), parts.strategy):
            kept, seen = tree_examples(outcome.tree, parts.task)
            examples += kept
            counts = {k: counts[k] + seen[k] for k in counts}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(root / "tree" / "counts.json", json.dumps(counts))
        atomic_write(path, "".join(json.dumps(e.__dict__) + "\n" for e in examples))
    lines = path.read_text().splitlines()
    examples = [
        Example(**{**d, "steps": tuple(d["steps"]), "labels": tuple(d["labels"])}) for d in map(json.loads, lines)
    ]
    return examples, json.loads((root / "tree" / "counts.json").read_text())


def train_stage(root: Path, examples: list[Example], args: argparse.Namespace) -> dict[str, Any]:
    """Fine-tune the shipped PRM; a checkpoint under `train/step<k>` every `save_every` steps."""
    folder = root / "train"
    done = folder / "train.json"
    if done.exists():
        return json.loads(done.read_text())
    from infscale.rewards.qwen2_prm import Qwen2ForProcessRewardModel

    hard = hard_negatives(examples, args.confident)
    rows = training_rows(examples) + training_rows(hard, args.hard_repeat)
    ids, labels = padded(rows)
    ids, labels = ids.long(), labels.long()
    order = ops.EpochOrder(len(ids), args.batch, seed=args.seed, device="cpu")
    saved: list[int] = []

    def on_step(model: torch.nn.Module, step: int, loss: torch.Tensor, last: bool) -> None:
        if step % args.save_every == 0 or last:
            model.save_pretrained(str(folder / f"step{step}"), safe_serialization=True)
            saved.append(step)
            print(f"train step {step}: loss {float(loss.detach()):.4f}", flush=True)

    settings = loop.LoopSettings(
        loop.Schedule(args.lr, args.steps, args.warmup), seed=args.seed, seconds=args.seconds, progress=False,
        name="lessons_prm",
    )  # fmt: skip
    result = loop.train(
        lambda: Qwen2ForProcessRewardModel.from_pretrained(str(CHECKPOINTS / SHIPPED)),
        row_batches(ids, labels, order),
        settings,
        on_step,
    )
    counts = {
        "examples": len(examples),
        "pool": sum(e.source == "pool" for e in examples),
        "tree": sum(e.source == "tree" for e in examples),
        "wrong": sum(e.wrong for e in examples),
        "hard": len(hard),
        "hard_tree": sum(e.source == "tree" for e in hard),
        "rows": len(rows),
    }
    info = {"data": counts, "steps": result.steps, "seconds": round(result.seconds, 1), "checkpoints": saved}
    atomic_write(done, json.dumps(info))
    return info


def selection_samples(root: Path, problems: int) -> list[dict[str, Any]]:
    """toy_sum_s's best-of-64 samples (charged as the crossover's runs) on the selection problems."""

    def run() -> list[dict[str, Any]]:
        parts = crossover_components(
            "strategy=best_of_n", "strategy.selector=weighted", f"strategy.n={SAMPLING_N}",
            f"task.seed={SELECT_SEED}", f"task.n={problems}",
        )  # fmt: skip
        records = []
        for outcome in parts.engine.run(parts.task.problems(), parts.strategy):
            record = outcome_record(outcome, parts.task, {"n": SAMPLING_N}, "min")
            for candidate, node in zip(record["candidates"], outcome.decision.candidates, strict=True):
                candidate["steps"] = parts.task.split_steps(node.solution)
            records.append(record)
        return records

    return _cached(root / "select" / "samples.json", run)


def evaluate(root: Path, name: str, path: Path, records: list[dict[str, Any]], problems: int) -> dict[str, Any]:
    """Step AUC and REBASE n=16 minus weighted sampling at equal compute on SELECT_SEED."""

    def run() -> dict[str, Any]:
        parts = crossover_components(
            "strategy=rebase", f"strategy.n={SEARCH_N}", f"reward.path={path}",
            f"task.seed={SELECT_SEED}", f"task.n={problems}",
        )  # fmt: skip
        items = verifier_auc.auc_set(root / "select" / "auc_set", [CHECKPOINTS / POLICY], problems, 3, SELECT_SEED)
        steps = verifier_auc.scored(root / "select", f"auc_{name}", items, parts.reward)
        prepared = curves.prepare(records, parts.task)
        flat = [(r["problem_id"], c) for r in records for c in r["candidates"]]
        prompts = {p.id: p.prompt for p in parts.task.problems()}
        rescored = scores_of(parts.reward, [(prompts[pid], c["steps"]) for pid, c in flat])
        at = 0
        for problem in prepared:
            problem.score = np.array([aggregate(s, "min") for s in rescored[at : at + problem.size]], dtype=float)
            at += problem.size
        curve = curves.subsample(prepared, curves.powers_of_two(SAMPLING_N), ["weighted"], None)
        search = {o.problem.id: o for o in parts.engine.run(parts.task.problems(), parts.strategy)}
        ids = [p.problem_id for p in prepared]
        correct = np.array([parts.task.is_correct(search[i].decision.answer, search[i].problem.reference) for i in ids])
        cost = float(np.mean([search[i].ledger.flops_record()["total"] for i in ids]))
        sampled = equal_compute_correct([np.mean(c.flops_total) for c in curve], [c.correct for c in curve], cost)
        return {
            "name": name,
            "step_auc": steps.auc(np.arange(len(steps.values))),
            "rebase@16": float(correct.mean()),
            "weighted_at_equal_flops": None if sampled is None else float(sampled.mean()),
            "diff": None if sampled is None else float(correct.mean() - sampled.mean()),
            "flops_total": cost,
        }

    return _cached(root / "select" / f"{name}.json", run)


def select_stage(root: Path, info: dict[str, Any], problems: int) -> dict[str, Any]:
    records = selection_samples(root, problems)
    shipped = evaluate(root, SHIPPED, CHECKPOINTS / SHIPPED, records, problems)
    rows = [evaluate(root, f"step{k}", root / "train" / f"step{k}", records, problems) for k in info["checkpoints"]]
    for row in [shipped, *rows]:
        print(json.dumps(row), flush=True)
    best = max(rows, key=lambda r: r["step_auc"] + (r["diff"] if r["diff"] is not None else -1.0))
    return {"shipped": shipped, "candidates": rows, "chosen": best["name"]}


def install(root: Path, name: str, card: dict[str, Any]) -> Path:
    """The chosen checkpoint into tasks/toy_checkpoints/<name>, tokenizer and model card beside it."""
    target = CHECKPOINTS / name
    target.mkdir(parents=True, exist_ok=True)
    for file in ("config.json", "model.safetensors"):
        shutil.copyfile(root / "train" / card["selection"]["chosen"] / file, target / file)
    add_tokenizer(target)
    digest = hashlib.sha256((target / "model.safetensors").read_bytes()).hexdigest()[:12]
    atomic_write(target / "model_card.json", json.dumps({**card, "sha256_12": digest}, indent=1) + "\n")
    return target


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("outputs/lessons_prm"), help="working folder (resumable)")
    parser.add_argument("--name", default="toy_sum_prm_lessons", help="checkpoint folder to install")
    parser.add_argument("--pool", type=int, default=400, help="pool problems (training seed POOL_SEED)")
    parser.add_argument("--samples", type=int, default=8, help="solutions per pool problem")
    parser.add_argument("--k", type=int, default=4, help="MC completions per step prefix")
    parser.add_argument("--tree", type=int, default=150, help="REBASE problems harvested (training seed TREE_SEED)")
    parser.add_argument("--confident", type=float, default=0.5, help="shipped-PRM score of a confident mistake")
    parser.add_argument("--hard-repeat", type=int, default=3, help="extra copies of each hard negative")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=900.0, help="training time cap")
    parser.add_argument("--save-every", type=int, default=150)
    parser.add_argument("--select-problems", type=int, default=100, help="selection problems (task seed 6)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for key in ("pool", "samples", "k", "tree", "steps", "batch", "save_every", "select_problems"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    root = args.root
    tic = time.perf_counter()
    pool, synth = pool_stage(root, args)
    print(f"pool: {len(pool)} consensus solutions ({time.perf_counter() - tic:.0f} s)", flush=True)
    tree, tree_counts = tree_stage(root, args)
    print(f"tree: {tree_counts} ({time.perf_counter() - tic:.0f} s)", flush=True)
    info = train_stage(root, pool + tree, args)
    print(f"train: {info['data']}, {info['steps']} steps in {info['seconds']} s", flush=True)
    selection = select_stage(root, info, args.select_problems)
    card = {
        "name": args.name,
        "task": "toy_sum",
        "trained_on": "CPU (2 shared cores)",
        "init_from": SHIPPED,
        "recipe": "experiments/studies/lessons_prm.py",
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "seeds": {"pool": POOL_SEED, "tree": TREE_SEED, "selection_task_seed": SELECT_SEED},
        "synth": {k: synth[k] for k in ("n_pool", "pool_answer_correct", "kept_share", "agreement")},
        "tree": tree_counts,
        "training": info,
        "selection": selection,
    }
    print(f"installed {install(root, args.name, card)} ({time.perf_counter() - tic:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
