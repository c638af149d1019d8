"""The Qwen PRM lessons in the toy world: five toy PRMs trained from one pool of samples, per seed.

    python -m infscale.experiments.studies.prm_lessons            # every stage, seeds 0 1 2; rerun to resume
    python -m infscale.experiments.studies.prm_lessons --seeds 0 --pool-problems 2000   # one seed, larger

The world is the toy_sum ladder (docs/model_card.md): `toy_sum_xs` is the policy and the MC
completer, and every PRM starts, like `toy_sum_prm`, from `toy_sum_m`'s backbone.

1. synthesis (`rewards/synth/`), per seed: toy_sum_xs solves training problems; every step
   gets MC labels (toy_sum_xs as the completer, k completions per prefix), checker-judge
   labels and the consensus of both; the exact checker gives the ground truth they are
   measured against;
2. five PRMs per seed, identical but for their labels: (a) ground truth, (b) MC hard, (c) MC
   soft, (d) judge, (e) consensus; each resumable and a few minutes on 2 cores;
3. evaluation of each (and of the exact checker as the ceiling) on one fixed held-out set:
   ProcessBench F1 and step AUC on toy_sum_xs's solutions to held-out problems labelled by the
   checker, and Best-of-N / weighted voting on other held-out problems, the same sampled
   responses scored by every PRM, with the bias diagnostics;
4. the report: every number as its mean over the seeds with a 95% t interval
   (`lessons_report.py`), and an ordering of label sources only where intervals separate.

Outputs go to `outputs/prm_lessons/`; the table, the plot and the numbers to `docs/`.
"""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from infscale.budgets.budget import Budget
from infscale.experiments.app.build import build_engine, build_policy, load, load_config
from infscale.experiments.app.prm_bon import evaluate_bon
from infscale.experiments.app.store import atomic_write
from infscale.experiments.stats import auc
from infscale.experiments.studies.toy_processbench import toy_records, write_by_subset
from infscale.experiments.training import synth_prm as synth_train
from infscale.experiments.training.loop import epoch_batch
from infscale.experiments.training.prm_synth import SynthSettings, synthesize
from infscale.experiments.training.toy_policy import RECIPES, build_model, save, train
from infscale.experiments.training.toy_prm import load_policy_backbone
from infscale.rewards.eval import processbench
from infscale.rewards.eval.data import load_items
from infscale.rewards.eval.scoring import model_scores
from infscale.rewards.prm_adapters.toy import ToyAdapter
from infscale.rewards.synth.agreement import step_labels
from infscale.search.backends import ScoreRequest
from infscale.search.engine import Engine
from infscale.tasks.base import Problem, Task
from infscale.tasks.toy_arith import CHECKPOINTS, TRAIN_SEED_BASE
from infscale.tasks.toy_sum import ToySumTask
from infscale.tasks.toy_tokenizer import build_char_tokenizer

ROOT = Path("outputs/prm_lessons")
DOCS = Path(__file__).resolve().parents[2] / "docs"  # the repository's docs/
# toy_sum's policies train on seed TRAIN_SEED_BASE, its PRMs on + 1 and + 2: the pool is new data.
POOL_SEED = TRAIN_SEED_BASE + 3
# Held-out task seeds: 0 is the ladder's test set and 1 its selection set; these two are unused.
HELDOUT_SEED, BON_SEED = 2, 3
POLICY, PRM_INIT = "toy_sum_xs", "toy_sum_m"


@dataclass(frozen=True)
class Lessons:
    """Defaults sized for a 2-core machine; the paper's k is 8, and larger pools and longer
    training are one option away. `seed` drives the pool, the MC rollouts, the judge's
    errors and the PRMs' initialisation and data order; the held-out sets are the same for
    every seed."""

    pool_problems: int = 600
    samples: int = 4
    k: int = 4
    threshold: float = 0.0
    miss_rate: float = 0.1
    false_alarm_rate: float = 0.05
    train_steps: int = 600
    train_batch: int = 32
    heldout_problems: int = 100
    heldout_samples: int = 3
    bon_problems: int = 200
    bon_n: int = 8
    seed: int = 0


@dataclass(frozen=True)
class Workspace:
    root: Path = ROOT  # resumable working folder
    policies: Path = CHECKPOINTS  # folder holding toy_sum_xs and toy_sum_m

    def engine(self, task: Task, name: str, seed: int) -> Engine:
        cfg = load_config(f"policy={name}", f"policy.path={self.policies / name}", f"seed={seed}", "progress=false")
        return build_engine(cfg, task, build_policy(cfg, task), None, Budget.unlimited())

    def seed_folder(self, seed: int) -> Path:
        return self.root / f"seed{seed}"


def pool_problems(count: int) -> list[Problem]:
    """Training problems from the seeds evaluation refuses, levels in turn."""
    return [ToySumTask.problem(POOL_SEED, 1 + i % 4, i) for i in range(count)]


def synthesis(cfg: Lessons, ws: Workspace) -> dict[str, Any]:
    task = load("task", "toy_sum")
    settings = SynthSettings(cfg.samples, cfg.k, cfg.threshold, cfg.miss_rate, cfg.false_alarm_rate, cfg.seed)
    return synthesize(
        ws.seed_folder(cfg.seed) / "synth",
        task,
        pool_problems(cfg.pool_problems),
        ws.engine(task, POLICY, cfg.seed),
        ws.engine(task, POLICY, cfg.seed + 1000),
        settings,
    )


def heldout_set(cfg: Lessons, ws: Workspace) -> Path:
    """The ProcessBench-format toy set (`experiments/studies/toy_processbench.py`): the policy's greedy
    and sampled solutions to held-out problems, labelled by the exact checker, one file per level."""
    folder = ws.root / "heldout"
    if not folder.exists():
        records = toy_records(
            [ws.policies / POLICY], cfg.heldout_problems, cfg.heldout_samples, task="toy_sum", task_seed=HELDOUT_SEED
        )
        write_by_subset(folder, records)
    return folder


def train_prm(kind: str, cfg: Lessons, ws: Workspace) -> Path:
    folder = ws.seed_folder(cfg.seed)
    out = folder / "prms" / kind
    if (out / "model.safetensors").exists():
        return out
    records = [json.loads(line) for line in (folder / "synth" / _stage_file(kind)).read_text().splitlines()]
    examples = synth_train.training_examples(records, kind)
    tokenizer = build_char_tokenizer()
    rows = synth_train.encode(examples, ToyAdapter(tokenizer))
    base = RECIPES["toy_prm"]
    recipe = replace(
        base,
        steps=cfg.train_steps,
        batch=cfg.train_batch,
        warmup=min(base.warmup, cfg.train_steps // 10),
        extra={"init_from": PRM_INIT, "lessons_seed": cfg.seed},
    )
    special = {"pad": tokenizer.pad_token_id, "bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id}

    def build() -> synth_train.SoftTargetPRM:
        prm = build_model(f"lessons_{kind}", recipe, len(tokenizer), special)
        load_policy_backbone(prm, ws.policies / PRM_INIT)
        return synth_train.SoftTargetPRM(prm)

    def batch(step: int) -> dict:
        key = lambda epoch: f"lessons:{recipe.train_seed}:{cfg.seed}:{epoch}"  # noqa: E731
        return synth_train.collate(epoch_batch(rows, step, recipe.batch, key), special["pad"])

    model, card = train(f"prm[{kind}, seed {cfg.seed}]", recipe, build, batch, out / "state", cfg.seed)
    card.update(
        {
            "label_set": kind,
            "solutions": len(examples),
            "labelled_steps": sum(len(e["targets"]) for e in examples),
            "data": f"{folder}/synth/{_stage_file(kind)} (pool: {POLICY} on "
            f"random.Random('toy_sum:{POOL_SEED}:<level>:<i>'), seed {cfg.seed})",
        }
    )
    save(f"lessons_{kind}", model.prm, recipe, card, out)
    return out


def _stage_file(kind: str) -> str:
    return {"ground_truth": "pool.jsonl", "mc_hard": "mc.jsonl", "mc_soft": "mc.jsonl"}.get(kind, f"{kind}.jsonl")


def evaluate(name: str, reward: Any, heldout: Path, bon_outcomes: list, task: Task) -> dict[str, Any]:
    """Step level: F1 at tau 0.5 on all items; F1 with tau fitted on half the problems of
    every level (dev) and measured on the other half (test); step AUC. Response level: Best-of-N."""
    items = load_items(str(heldout))
    scores = model_scores(items, reward, batch_size=256)
    dev = {i.extra["problem_id"] for i in items if int(i.extra["problem_id"].rsplit("-", 1)[1]) // 4 % 2 == 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step = processbench.evaluate(_grouped(items, scores), 0.5)
        split = [(i, s) for i, s in zip(items, scores) if i.extra["problem_id"] in dev]
        test = [(i, s) for i, s in zip(items, scores) if i.extra["problem_id"] not in dev]
        tau = processbench.fit_tau(_grouped(*zip(*split)))
        fitted = processbench.evaluate(_grouped(*zip(*test)), tau)
    for outcome in bon_outcomes:
        candidates = outcome.decision.candidates
        values = reward.score([_request(outcome.problem, c, task) for c in candidates])
        for node, v in zip(candidates, values):
            node.step_scores = v
    return {
        "name": name,
        "step": step,
        "step_fitted": fitted,
        "step_auc": _step_auc(items, scores),
        "step_auc_all_steps": _step_auc(items, scores, to_first_error=False),
        "bon": evaluate_bon(bon_outcomes, task, 0.5),
    }


def _grouped(items: Any, scores: Any) -> dict[str, tuple[list, list]]:
    subsets: dict[str, tuple[list, list]] = {}
    for item, values in zip(items, scores):
        labels, lists = subsets.setdefault(item.subset, ([], []))
        labels.append(item.label)
        lists.append(values)
    return dict(sorted(subsets.items()))


def _step_auc(items: Any, scores: Any, to_first_error: bool = True) -> float | None:
    """Step AUC (`stats.auc`) on the held-out set. With `to_first_error`, ProcessBench's
    domain and the one every PRM here is trained on (`synth_train.training_examples` cuts a
    solution after its first wrong step): the steps before the first error are right, the first
    error is wrong, later steps carry no label. Otherwise every step, later ones counted wrong."""
    right, wrong = [], []
    for item, values in zip(items, scores):
        labels = step_labels(item.label, len(values))
        if to_first_error and item.label != -1:
            labels, values = labels[: item.label + 1], values[: item.label + 1]
        for ok, value in zip(labels, values):
            (right if ok else wrong).append(value)
    return auc(right, wrong) if right and wrong else None


def _request(problem: Problem, node: Any, task: Task) -> ScoreRequest:
    return ScoreRequest(problem.prompt, tuple(task.split_steps(node.solution)))


def bon_samples(cfg: Lessons, ws: Workspace) -> tuple[Task, list]:
    """The same Best-of-N responses for every PRM and seed: sampled once (seed 0), scored per PRM."""
    task = load("task", "toy_sum", seed=BON_SEED, n=cfg.bon_problems)
    eng = ws.engine(task, POLICY, 0)
    outcomes = list(
        eng.run(task.problems(), load("strategy", "best_of_n", task=task, n=cfg.bon_n, selector="majority"))
    )
    return task, outcomes


def run_seed(cfg: Lessons, ws: Workspace, heldout: Path, bon: tuple[Task, list], stop: str | None) -> dict[str, Any]:
    """One seed: synthesis, the five PRMs, their evaluation (cached in the seed's folder);
    `stop` ("synth", "train") ends it after that stage."""
    done = ws.seed_folder(cfg.seed) / "evaluation.json"
    if done.exists():
        return json.loads(done.read_text())
    synth = synthesis(cfg, ws)
    print(f"seed {cfg.seed}:", json.dumps(synth["agreement"], indent=1))
    if stop == "synth":
        return {"synthesis": synth}
    paths = {kind: train_prm(kind, cfg, ws) for kind in synth_train.LABEL_SETS}
    if stop == "train":
        return {"synthesis": synth}
    task, outcomes = bon
    rows = [evaluate("exact checker", load("reward", "oracle", task=task), heldout, outcomes, task)]
    for kind, path in paths.items():
        # The tokenizer comes from a Llama-typed toy folder: for a qwen2-typed folder transformers
        # 5 loads Qwen2Tokenizer, which drops the spaces and newlines the toy PRM reads at.
        prm = load(
            "reward",
            "hf_prm",
            path=str(path),
            adapter="toy",
            task=task,
            tokenizer=str(ws.policies / POLICY),
            batch_size=256,
        )
        rows.append(evaluate(kind, prm, heldout, outcomes, task))
    result = {"seed": cfg.seed, "synthesis": synth, "prms": rows}
    atomic_write(done, json.dumps(result))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field, default in asdict(Lessons()).items():
        if field != "seed":
            parser.add_argument(f"--{field.replace('_', '-')}", type=type(default), default=default)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one study per seed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--policies", type=Path, default=CHECKPOINTS, help="folder holding toy_sum_xs and toy_sum_m")
    parser.add_argument("--root", type=Path, default=ROOT, help="working folder (resumable)")
    parser.add_argument("--docs", type=Path, default=DOCS, help="where the table, plot and numbers go")
    parser.add_argument("--only", choices=("synth", "train"), default=None, help="stop after this stage")
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        raise SystemExit(f"--seeds: each seed once (got {args.seeds})")
    torch.set_num_threads(args.threads)
    cfg = Lessons(**{k: getattr(args, k) for k in asdict(Lessons()) if k != "seed"})
    ws = Workspace(args.root, args.policies)
    ws.root.mkdir(parents=True, exist_ok=True)
    settings_path = ws.root / "lessons.json"
    if settings_path.exists() and json.loads(settings_path.read_text()) != asdict(cfg):
        raise SystemExit(
            f"{ws.root} holds a run with other settings ({settings_path}); move it away or pass the same options"
        )
    atomic_write(settings_path, json.dumps(asdict(cfg)))
    heldout = heldout_set(cfg, ws)
    bon = bon_samples(cfg, ws) if args.only is None else (None, [])
    results = [run_seed(replace(cfg, seed=seed), ws, heldout, bon, args.only) for seed in args.seeds]
    if args.only is not None:
        return
    from infscale.experiments.studies.prm_lessons_report import write_report

    write_report(cfg, results, args.docs, POLICY)


if __name__ == "__main__":
    main()
