"""`infscale-prm-eval`: one PRM, judged per step and per response, written to report.json.

    infscale-prm-eval data.path=FILE reward=replay tau=0.5
    infscale-prm-eval data.path=DIR reward=toy_prm tau=fit fit_split=dev task=toy_arith policy=toy_small

The step-level half reads a ProcessBench-format set and reports acc_err, acc_cor and F1 per
subset and their mean; the response-level half (when `task` and `policy` are given) runs
Best-of-N with the same PRM and compares the min, last and prod aggregations. Diagnostics
(minimum on the final step, right answer with wrong process) come from both halves.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from infscale.budgets.budget import Budget
from infscale.experiments.app import errors, preflight, resolvers
from infscale.experiments.app.build import build_engine, build_policy, build_reward, build_task
from infscale.experiments.app.prm_bon import evaluate_bon, sample_and_score
from infscale.experiments.app.run import git_commit
from infscale.experiments.app.store import atomic_write
from infscale.rewards.eval import diagnostics, processbench
from infscale.rewards.eval.data import Item, load_items
from infscale.rewards.eval.scoring import model_scores, saved_scores

resolvers.register()


def evaluate_prm(cfg: DictConfig) -> dict[str, Any]:
    """The whole report for the configuration `cfg` (no files written)."""
    started = time.perf_counter()
    data_path = cfg.data.get("path")
    has_task = cfg.get("task") is not None
    if data_path is None and not has_task:
        raise ValueError("nothing to evaluate: give data.path=FILE (step level) and/or task=... policy=... (Best-of-N)")
    items = load_items(_paths(data_path)) if data_path is not None else []
    task = build_task(cfg) if has_task else None
    replay = str(cfg.reward._target_).endswith(".ReplayReward")
    reward = build_reward(cfg, task) if (task is not None or not replay) else None
    score = _scorer(cfg, reward, replay)

    report: dict[str, Any] = {
        "reward": cfg.reward.name,
        "data": _path_list(data_path),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tau, fitted_on, eval_items = _threshold(cfg, items, score)
        report.update(
            _step_level(eval_items, score, tau) if eval_items else {"subsets": {}, "avg_f1": None, "tau": tau}
        )
        report["tau_fitted_on"] = fitted_on
        report["bon"] = _best_of_n(cfg, task, reward, tau) if has_task else None
        if not has_task:
            warnings.warn(
                "no task given: Best-of-N skipped; step-level F1 alone can mislead (add task=... policy=...)",
                stacklevel=2,
            )
    report["warnings"] = [str(w.message) for w in caught]
    report["provenance"] = {
        "config": OmegaConf.to_container(cfg, resolve=True),
        "git_commit": git_commit(),
        "reward_checkpoint": getattr(reward, "checkpoint_hash", None),
        "wall_s": round(time.perf_counter() - started, 3),
    }
    return report


def _paths(data_path: Any) -> str | list[str]:
    return (
        [str(p) for p in data_path] if OmegaConf.is_list(data_path) or isinstance(data_path, list) else str(data_path)
    )


def _path_list(data_path: Any) -> list[str]:
    """data.path as the report lists it: one entry per file (a single path is not split into characters)."""
    if data_path is None:
        return []
    paths = _paths(data_path)
    return [paths] if isinstance(paths, str) else paths


def _scorer(cfg: DictConfig, reward: Any, replay: bool):
    if replay:
        return lambda items: saved_scores(items, str(cfg.step_scores_transform))
    return lambda items: model_scores(items, reward, int(cfg.batch_size), bool(cfg.progress))


def _threshold(cfg: DictConfig, items: list[Item], score) -> tuple[float, str | None, list[Item]]:
    """(tau, what it was fitted on or None, the items to report on)."""
    tau = cfg.tau
    if tau != "fit":
        if isinstance(tau, bool) or not isinstance(tau, (int, float)):
            raise ValueError(f"tau must be a number or 'fit', got {tau!r}")
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau must be in [0, 1] (step scores are probabilities), got {tau}")
        if cfg.get("fit_split") is not None:
            raise ValueError(f"fit_split={cfg.fit_split} is given but tau={tau}: set tau=fit to fit it")
        return float(tau), None, items
    split = cfg.get("fit_split")
    if split is None:
        raise ValueError("tau=fit needs fit_split=SUBSET (of data.path) or fit_split=FILE")
    split = str(split)
    held = [i for i in items if i.subset == split]
    if held:
        rest = [i for i in items if i.subset != split]
        fit_items = held
    elif Path(split).exists():
        rest, fit_items = items, load_items(split)
    else:
        subsets = sorted({i.subset for i in items})
        raise ValueError(f"fit_split={split} is neither a subset of data.path ({', '.join(subsets)}) nor a file")
    return processbench.fit_tau(_by_subset(fit_items, score(fit_items))), split, rest


def _by_subset(items: list[Item], scores: list[list[float]]) -> dict[str, tuple[list[int], list[list[float]]]]:
    grouped: dict[str, tuple[list[int], list[list[float]]]] = {}
    for item, values in zip(items, scores):
        labels, lists = grouped.setdefault(item.subset, ([], []))
        labels.append(item.label)
        lists.append(values)
    return grouped


def _step_level(items: list[Item], score, tau: float) -> dict[str, Any]:
    scores = score(items)
    result = processbench.evaluate(_by_subset(items, scores), tau)
    answers = [i.final_answer_correct for i in items]
    result["diagnostics"] = {
        "min_on_last": diagnostics.min_on_last_share(scores),
        "wrong_process": diagnostics.wrong_process([i.label for i in items], answers, scores, tau)
        if any(a is not None for a in answers)
        else None,
    }
    return result


def _best_of_n(cfg: DictConfig, task: Any, reward: Any, tau: float) -> dict[str, Any]:
    if cfg.get("policy") is None:
        raise ValueError("Best-of-N needs a policy: add policy=... next to task=...")
    n, n_problems = int(cfg.bon.n), int(cfg.bon.n_problems)
    if n < 1 or n_problems < 1:
        raise ValueError(f"bon.n and bon.n_problems must be >= 1, got {n}, {n_problems}")
    preflight.check_width(n, cfg.engine.get("max_n"), "bon.n")
    policy = build_policy(cfg, task)
    engine = build_engine(cfg, task, policy, reward, Budget.unlimited())
    outcomes = sample_and_score(engine, task.problems()[:n_problems], n)
    return {"task": cfg.task.name, "policy": cfg.policy.name, **evaluate_bon(outcomes, task, tau)}


def format_report(report: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "  -  " if x is None else f"{100 * x:5.1f}"

    lines = [
        f"PRM {report['reward']}  tau={report['tau']:.4g}"
        + (f" (fitted on {report['tau_fitted_on']})" if report["tau_fitted_on"] else "")
    ]
    if report["subsets"]:
        lines.append(f"{'subset':<24}{'n':>6}{'acc_err':>9}{'acc_cor':>9}{'F1':>7}")
        for name, m in report["subsets"].items():
            lines.append(f"{name:<24}{m['n']:>6}{pct(m['acc_err']):>9}{pct(m['acc_cor']):>9}{pct(m['f1']):>7}")
        lines.append(f"{'average F1':<24}{'':>24}{pct(report['avg_f1']):>7}")
        lines.extend(_diagnostic_lines("step-labelled set", report["diagnostics"]))
    bon = report.get("bon")
    if bon:
        lines.append(
            f"Best-of-{bon['n']} on {bon['task']} ({bon['n_problems']} problems, policy {bon['policy']}), accuracy %:"
        )
        lines.append(f"{'':<12}" + "".join(f"{how:>8}" for how in ("min", "last", "prod")))
        for selector in ("best", "weighted"):
            lines.append(
                f"{selector:<12}"
                + "".join(
                    f"{pct(bon['accuracy'][f'{selector}_{how}']['accuracy']):>8}" for how in ("min", "last", "prod")
                )
            )
        lines.append(
            f"majority {pct(bon['accuracy']['majority']['accuracy'])}   pass@{bon['n']} {pct(bon['pass_at_n'])}"
        )
        lines.extend(_diagnostic_lines(f"Best-of-{bon['n']} responses", bon))
    return "\n".join(lines)


def _diagnostic_lines(where: str, d: dict[str, Any]) -> list[str]:
    lines = []
    mol = d.get("min_on_last")
    if mol and mol["share"] is not None:
        lines.append(f"{where}: minimum score on the final step in {pct_text(mol['share'])} of {mol['n']} responses")
    wp = d.get("wrong_process")
    if wp and wp["share"] is not None:
        lines.append(
            f"{where}: right answer, wrong process in {pct_text(wp['share'])} of {wp['n_right_answer']} right answers; "
            f"PRM flags {pct_text(wp['caught'])} of them ({pct_text(wp['caught_at_first_error'])} at the first error)"
        )
    return lines


def pct_text(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


@errors.command("infscale-prm-eval")
@hydra.main(version_base=None, config_path="pkg://infscale.conf", config_name="prm_eval")
def main(cfg: DictConfig) -> None:
    folder = Path(HydraConfig.get().runtime.output_dir)
    report = evaluate_prm(cfg)
    for message in report["warnings"]:
        print(f"infscale-prm-eval: warning: {message}", file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "report.json", json.dumps(report, indent=2))
    print(format_report(report))
    print(f"report: {folder / 'report.json'}")


if __name__ == "__main__":
    main()
