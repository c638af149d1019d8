"""infscale's beam search against search-and-learn's, on the same vLLM policy and PRM.

    python experiments/bench/search_and_learn.py --sal-src DIR [--problems 100] [--n 16]
        [--beam-width 4] [--repeats 2] [--json PATH] [override ...]

Their code is not a package on PyPI; `--sal-src` is a checkout of the pinned commit:

    git clone https://github.com/huggingface/search-and-learn
    git -C search-and-learn checkout 6f81cac8b1ca4c4be9fabefc27a856c928f3ae7f
    pip install datasets word2number && pip install --no-deps "latex2sympy2==1.9.1"

(what their modules import; `--no-deps` keeps hydra's antlr 4.9 runtime, which latex2sympy2's
4.7 parser loads with a printed version warning.)

Both arms run the first `--problems` toy problems (seed 0: never trained on) on one
`vllm.LLM` (`policy=vllm_toy_small`) with the same reward model (`reward=toy_prm`, or any
`reward=` override), a fresh copy of it per arm and vLLM's prefix cache emptied first:

- infscale: `strategy=beam` through the engine (problems batched together);
- search-and-learn: `sal.search.beam_search` one problem at a time (its config refuses
  `search_batch_size` != 1 for beam search), through the adapters of `sal_adapters.py`,
  with infscale's settings: N, M, temperature, step and depth limits, aggregation.

Both pick the final answer with infscale's `strategy.selector` over their candidates
(their own `pred`, the single best-scored completion, is reported too). `--repeats` runs
the two in alternating order; the table gives each repeat, the speed-up per generated
token (their seconds per token over ours; by wall time and by this process's CPU time, vLLM
running in it, which a loaded machine disturbs far less) and the paired accuracy difference with its 95%
bootstrap interval over problems.
"""

from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # their loop draws a bar per problem (read when tqdm loads)

import argparse  # noqa: E402
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infscale.experiments.bench.sal_adapters import ScoringPRM, StepLLM
from infscale.experiments.bench.vllm_world import (
    World,
    engine_run,
    fresh_reward,
    load_world,
    machine_line,
    print_table,
    write_json,
)
from infscale.experiments.stats import paired_difference
from infscale.search.selection import select

PINNED = "6f81cac8b1ca4c4be9fabefc27a856c928f3ae7f"


@dataclass(frozen=True)
class Completion:
    answer: str | None
    step_scores: list[float]


def load_sal(src: Path) -> tuple[Any, Any]:
    """search-and-learn's `Config` and `beam_search` from a checkout at `src`."""
    if not (src / "src" / "sal" / "search" / "beam_search.py").is_file():
        raise SystemExit(f"--sal-src {src}: not a search-and-learn checkout (no src/sal/search/beam_search.py)")
    sys.path.insert(0, str(src / "src"))
    from sal.config import Config
    from sal.search.beam_search import beam_search

    return Config, beam_search


def sal_config(config_cls: Any, world: World, n: int, beam_width: int) -> Any:
    policy, strategy = world.cfg.policy, world.cfg.strategy
    return config_cls(
        approach="beam_search",
        n=n,
        beam_width=beam_width,
        temperature=float(policy.temperature),
        top_p=1.0,
        max_tokens=int(policy.max_step_tokens),
        num_iterations=int(strategy.max_depth),
        lookahead=0,
        agg_strategy=str(strategy.aggregation),
        search_batch_size=1,
        filter_duplicates=False,
        sort_completed=False,
    )


def sal_run(world: World, beam_search: Any, config: Any) -> dict[str, Any]:
    """Their `beam_search` on each problem in turn; correctness by infscale's selector and by theirs."""
    task, strategy = world.task, world.cfg.strategy
    llm = StepLLM(world.policy.llm, task.step_delimiter)
    prm = ScoringPRM(fresh_reward(world), task)
    correct, correct_theirs = [], []
    started, started_cpu = time.perf_counter(), time.process_time()
    for problem in world.problems:
        result = beam_search({"problem": [problem.prompt]}, config, llm, prm)
        candidates = [
            Completion(task.extract_answer(text), scores)
            for text, scores in zip(result["completions"][0], result["scores"][0])
        ]
        chosen = select(candidates, str(strategy.selector), str(strategy.aggregation), task, str(strategy.unanswered))
        correct.append(float(task.is_correct(chosen.answer if chosen else None, problem.reference)))
        correct_theirs.append(float(task.is_correct(task.extract_answer(result["pred"][0]), problem.reference)))
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "policy_s": llm.seconds,
        "reward_s": prm.seconds,
        "other_s": wall - llm.seconds - prm.seconds,
        "policy_calls": llm.calls,
        "sequences": llm.sequences,
        "reward_sequences": prm.sequences,
        "generated": llm.generated,
        "accuracy": sum(correct) / len(correct),
        "accuracy_their_pred": sum(correct_theirs) / len(correct_theirs),
        "correct": correct,
    }


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    per_token = (theirs["wall_s"] / theirs["generated"]) / (ours["wall_s"] / ours["generated"])
    per_token_cpu = (theirs["cpu_s"] / theirs["generated"]) / (ours["cpu_s"] / ours["generated"])
    diff, low, high = paired_difference(ours["correct"], theirs["correct"])
    return {
        "speedup_per_token": per_token,
        "speedup_per_token_cpu": per_token_cpu,
        "accuracy_diff": diff,
        "accuracy_diff_ci": [low, high],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sal-src", type=Path, required=True, help=f"search-and-learn checkout at {PINNED[:7]}")
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--beam-width", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="pairs of runs, in alternating order")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (e.g. reward=vllm_toy_prm)")
    args = parser.parse_args()
    config_cls, beam_search = load_sal(args.sal_src)
    world = load_world(
        ["strategy=beam", f"strategy.n={args.n}", f"strategy.beam_width={args.beam_width}", *args.overrides],
        args.problems,
    )
    config = sal_config(config_cls, world, args.n, args.beam_width)
    arms = {
        "infscale": lambda: engine_run(world, {}),
        "search_and_learn": lambda: sal_run(world, beam_search, config),
    }
    repeats = []
    for r in range(args.repeats):
        order = list(arms) if r % 2 == 0 else list(reversed(arms))
        runs = {name: arms[name]() for name in order}
        repeats.append({"order": order, **runs, **compare(runs["infscale"], runs["search_and_learn"])})
    report(args, repeats)


def report(args: argparse.Namespace, repeats: list[dict[str, Any]]) -> None:
    print(
        f"{machine_line()}, beam N={args.n} M={args.beam_width}, {args.problems} problems, overrides={args.overrides}"
    )
    rows = []
    for r, rep in enumerate(repeats):
        for name in rep["order"]:
            x = rep[name]
            rows.append(
                [
                    r + 1,
                    name,
                    f"{x['wall_s']:.1f}",
                    f"{x['policy_s']:.1f}",
                    f"{x['reward_s']:.1f}",
                    f"{x['other_s']:.1f}",
                ]
                + [x["policy_calls"], x["generated"], f"{x['generated'] / x['wall_s']:.0f}", f"{x['accuracy']:.2f}"]
            )
    header = "repeat,arm,wall s,in generate s,in PRM s,other s,vLLM calls,generated,tokens/s,accuracy"
    print_table(header.split(","), rows)
    for r, rep in enumerate(repeats):
        low, high = rep["accuracy_diff_ci"]
        print(
            f"repeat {r + 1}: speed-up per generated token {rep['speedup_per_token']:.2f}x (by CPU time "
            f"{rep['speedup_per_token_cpu']:.2f}x); accuracy infscale - "
            f"search-and-learn {rep['accuracy_diff']:+.2f} [{low:+.2f}, {high:+.2f}]; their own pred "
            f"{rep['search_and_learn']['accuracy_their_pred']:.2f}"
        )
    median = statistics.median(rep["speedup_per_token"] for rep in repeats)
    median_cpu = statistics.median(rep["speedup_per_token_cpu"] for rep in repeats)
    print(
        f"median speed-up per generated token over {len(repeats)} repeats: {median:.2f}x (by CPU time {median_cpu:.2f}x)"
    )
    write_json(
        args.json,
        {
            "args": vars(args),
            "repeats": repeats,
            "median_speedup_per_token": median,
            "median_speedup_per_token_cpu": median_cpu,
        },
    )


if __name__ == "__main__":
    main()
