"""Measure the toy world: per level, each policy's greedy, one-sample, majority@k and pass@k
accuracy, and the toy PRM's step AUC, ProcessBench F1 and PRM-weighted voting / best-of-N.

    python -m infscale.experiments.studies.toy_evaluate --problems 100 --samples 16 --hard-samples 64

Problems come from evaluation seed `--seed` (never a training seed). Writes
`outputs/eval_toy/report.json` and prints a Markdown table (the model card's numbers).
Samples are kept next to the report (delete them after retraining a policy), so the PRM
metrics can be recomputed without sampling again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from infscale.experiments.app.build import load
from infscale.policies.hf import HFPolicy
from infscale.rewards.eval.processbench import evaluate
from infscale.rewards.eval.truth import first_error
from infscale.search.backends import GenerationRequest, ScoreRequest
from infscale.search.selection import UNANSWERED, answer_groups
from infscale.tasks.toy_arith import CHECKPOINTS, LEVELS, ToyArithTask


def vote(
    task: ToyArithTask,
    answers: Sequence[str | None],
    weights: Sequence[float] | None = None,
    unanswered: str = "vote",
) -> str | None:
    """The answer group with the largest total weight (1 each for majority), grouped as the
    engine groups them (`search.selection.answer_groups`); ties go to the group whose first
    member came first. With `unanswered="vote"` (the engine's default, as the reference codes)
    solutions without an answer form one "no answer" group that can win (then None, wrong);
    with `"drop"` they do not vote."""
    if unanswered not in UNANSWERED:
        raise ValueError(f"unknown --unanswered '{unanswered}' (known: {', '.join(UNANSWERED)})")
    voters = [k for k, answer in enumerate(answers) if answer is not None or unanswered == "vote"]
    if not voters:
        return None
    groups = answer_groups([answers[k] for k in voters], task)
    totals = [sum(1.0 if weights is None else weights[voters[i]] for i in group) for group in groups]
    best = max(range(len(groups)), key=lambda j: (totals[j], -j))
    return answers[voters[groups[best][0]]]


def sample(policy: HFPolicy, prompts: list[str], n: int, temperature: float, seed: int) -> list[list[str]]:
    requests = [GenerationRequest(p, n, "end", "\n", 128, temperature, seed + 1000 * i) for i, p in enumerate(prompts)]
    return [[s.text for s in r.samples] for r in policy.generate(requests)]


def policy_metrics(
    task: ToyArithTask, problems: list, greedy: list[list[str]], texts: list[list[str]], k: int, unanswered: str
) -> dict[str, float]:
    def correct(text: str, problem) -> bool:
        return task.is_correct(task.extract_answer(text), problem.reference)

    one = [np.mean([correct(t, p) for t in ts[:k]]) for p, ts in zip(problems, texts)]
    return {
        f"unanswered@{k}": float(np.mean([task.extract_answer(t) is None for ts in texts for t in ts[:k]])),
        "greedy": float(np.mean([correct(g[0], p) for p, g in zip(problems, greedy)])),
        "one_sample": float(np.mean(one)),
        f"majority@{k}": float(
            np.mean(
                [
                    task.is_correct(vote(task, [task.extract_answer(t) for t in ts[:k]], None, unanswered), p.reference)
                    for p, ts in zip(problems, texts)
                ]
            )
        ),
        f"pass@{k}": float(np.mean([any(correct(t, p) for t in ts[:k]) for p, ts in zip(problems, texts)])),
    }


def prm_metrics(
    task: ToyArithTask, reward: Any, problems: list, texts: list[list[str]], k: int, unanswered: str
) -> dict[str, Any]:
    """Step AUC and ProcessBench F1 (tau 0.5) against the checker, and PRM-guided selection
    (a solution without steps is worth 0; `unanswered` as in `vote`)."""
    from infscale.experiments.stats import auc

    requests, labels = [], []
    for p, ts in zip(problems, texts):
        for t in ts[:k]:
            steps = tuple(task.split_steps(t))
            requests.append(ScoreRequest(p.prompt, steps))
            labels.append(task.process_labels(p, list(steps)) if steps else [])
    scores = reward.score(requests)
    flat = [(s, ok) for row, ls in zip(scores, labels) for s, ok in zip(row, ls)]
    keep = [i for i, ls in enumerate(labels) if ls]
    bench = evaluate({"toy": ([first_error(labels[i]) for i in keep], [scores[i] for i in keep])}, 0.5)["subsets"][
        "toy"
    ]
    out = {
        "step_auc": auc([s for s, ok in flat if ok], [s for s, ok in flat if not ok])
        if any(ok for _, ok in flat) and not all(ok for _, ok in flat)
        else None,
        "processbench_f1": bench["f1"],
        "acc_err": bench["acc_err"],
        "acc_cor": bench["acc_cor"],
    }
    cursor = 0
    picks = defaultdict(list)
    for p, ts in zip(problems, texts):
        answers = [task.extract_answer(t) for t in ts[:k]]
        rows = scores[cursor : cursor + len(answers)]
        cursor += len(answers)
        for how in ("last", "min"):
            agg = [(r[-1] if how == "last" else min(r)) if r else 0.0 for r in rows]
            picks[f"weighted_{how}@{k}"].append(task.is_correct(vote(task, answers, agg, unanswered), p.reference))
            voters = [i for i, a in enumerate(answers) if a is not None or unanswered == "vote"]
            best = max(voters, key=lambda i: (agg[i], -i)) if voters else None
            picks[f"best_{how}@{k}"].append(best is not None and task.is_correct(answers[best], p.reference))
    out.update({name: float(np.mean(v)) for name, v in picks.items()})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="evaluation task seed")
    parser.add_argument("--problems", type=int, default=100, help="problems per level")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--hard-samples", type=int, default=64, help="samples per problem on the hardest level")
    parser.add_argument("--policies", nargs="+", default=["toy_small", "toy_large"])
    parser.add_argument("--prm", default="toy_prm", help="PRM checkpoint name, or 'none'")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--unanswered",
        choices=UNANSWERED,
        default="vote",
        help="solutions without an answer vote for 'no answer' (as strategy.unanswered's default) or are dropped",
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/eval_toy/report.json"))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    reward = None
    if args.prm != "none":
        reward = load(
            "reward",
            "hf_prm",
            path=str(CHECKPOINTS / args.prm),
            adapter="toy",
            name=args.prm,
            tokenizer=str(CHECKPOINTS / "tokenizer"),
            batch_size=256,
        )
    hardest = max(LEVELS)
    checkpoint_hash = {
        name: hashlib.sha256((CHECKPOINTS / name / "model.safetensors").read_bytes()).hexdigest()[:12]
        for name in args.policies
    }
    report: dict[str, Any] = {
        "seed": args.seed,
        "problems_per_level": args.problems,
        "unanswered": args.unanswered,
        "levels": {},
    }
    for level in sorted(LEVELS):
        task = load("task", "toy_arith", seed=args.seed, level=level, n=args.problems)
        problems = task.problems()
        prompts = [p.prompt for p in problems]
        n = args.hard_samples if level == hardest else args.samples
        for name in args.policies:
            cache = (
                args.out.parent
                / f"samples_{name}-{checkpoint_hash[name]}_L{level}_s{args.seed}_p{args.problems}_n{n}.json"
            )
            if cache.exists():
                greedy, texts = json.loads(cache.read_text())
            else:
                policy = load("policy", "hf", path=str(CHECKPOINTS / name), max_batch=256)
                greedy = sample(policy, prompts, 1, 0.0, args.seed)
                texts = sample(policy, prompts, n, 1.0, args.seed)
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps([greedy, texts]))
            row = policy_metrics(task, problems, greedy, texts, args.samples, args.unanswered)
            if n != args.samples:
                row.update(policy_metrics(task, problems, greedy, texts, n, args.unanswered))
            if reward is not None:
                row.update(prm_metrics(task, reward, problems, texts, args.samples, args.unanswered))
            report["levels"].setdefault(str(level), {})[name] = row
            print(level, name, json.dumps(row), flush=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    keys: list[str] = []
    for by_policy in report["levels"].values():
        for row in by_policy.values():
            keys += [k for k in row if k not in keys]
    lines = ["| level | policy | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for level, by_policy in report["levels"].items():
        for name, row in by_policy.items():
            cells = [f"{row[k]:.3f}" if isinstance(row.get(k), float) else str(row.get(k, "")) for k in keys]
            lines.append(f"| {level} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
