"""The price of searching instead of sampling on vLLM, and the engine's share of a real run.

    python experiments/bench/backends.py [--problems 100] [--n 16] [--repeats 2] [--json PATH] [override ...]

(b) the engine's REBASE run over the first `--problems` toy problems with `policy=vllm_toy_small`
    (`reward=toy_prm` unless overridden), then
(a) the same vLLM engine generating, flat in one `generate` call, as many tokens as (b)
    generated: every problem's prompt sampled `--n` times, EOS ignored, the lengths chosen
    so the total matches.
b/a is the cost of search over plain sampling, with (b)'s time in the reward model left out
(flat sampling scores nothing): its `score` calls and its `count_tokens` (the engine asks the
reward model to tokenize each path for the ledger; the encoding is cached for `score`). Where
(b)'s time goes is reported too: inside vLLM's generate calls, inside the reward model,
inside the backends' `count_tokens`, and the rest, the engine and the strategies (its share
of (b)'s whole wall time). `--repeats` runs (b) and (a) in alternating order, each with
vLLM's prefix cache emptied first (and a fresh reward model for (b)).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from infscale.experiments.bench.vllm_world import World, engine_run, machine_line, print_table, rebase_world, write_json


def flat_run(world: World, n: int, tokens: int) -> dict[str, Any]:
    """One generate call of len(problems) * n sequences totalling `tokens` generated tokens."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    policy = world.policy
    sequences = len(world.problems) * n
    base, extra = divmod(tokens, sequences)
    inputs, params = [], []
    for k, problem in enumerate(world.problems):
        for j in range(n):
            length = base + (1 if k * n + j < extra else 0)
            inputs.append(TokensPrompt(prompt_token_ids=policy.encode(problem.prompt)))
            params.append(
                SamplingParams(seed=j, temperature=1.0, max_tokens=max(length, 1), ignore_eos=True, skip_clone=True)
            )
    policy.llm.reset_prefix_cache()
    started, started_cpu = time.perf_counter(), time.process_time()
    outputs = policy.llm.generate(inputs, params, use_tqdm=False)
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "sequences": sequences,
        "generated": sum(len(o.outputs[0].token_ids) for o in outputs),
    }


def ratios(search: dict[str, Any], flat: dict[str, Any]) -> dict[str, float]:
    search_less_reward = search["wall_s"] - search["reward_s"] - search["reward_count_tokens_s"]
    return {
        "b_over_a": search_less_reward / flat["wall_s"],
        "b_over_a_per_token": (search_less_reward / search["generated"]) / (flat["wall_s"] / flat["generated"]),
        "b_over_a_cpu": (search["cpu_s"] - search["reward_cpu_s"]) / flat["cpu_s"],
        "engine_share": search["other_s"] / search["wall_s"],
    }


def main() -> None:
    args, world = rebase_world(__doc__, repeats=2)
    flat_run(world, 1, len(world.problems))  # warm-up: first-call costs stay out of (a)
    repeats: list[dict[str, Any]] = []
    for r in range(args.repeats):
        if r % 2 == 0:
            search = engine_run(world, {})
            flat = flat_run(world, args.n, search["generated"])
        else:  # the search is seeded: it generates what the last repeat's did
            flat = flat_run(world, args.n, repeats[-1]["search"]["generated"])
            search = engine_run(world, {})
        repeats.append(
            {"order": ["search", "flat"][:: 1 if r % 2 == 0 else -1], "search": search, "flat": flat}
            | ratios(search, flat)
        )
    report(args, repeats)


def report(args: argparse.Namespace, repeats: list[dict[str, Any]]) -> None:
    print(f"{machine_line()}, REBASE n={args.n}, {args.problems} problems, overrides={args.overrides}")
    rows = []
    for r, rep in enumerate(repeats):
        for name in rep["order"]:
            x = rep[name]
            if name == "flat":
                rows.append(
                    [r + 1, "(a) flat sampling, one call", f"{x['wall_s']:.2f}", x["generated"], x["sequences"], 1]
                )
                rows[-1] += [f"{x['wall_s']:.2f}", "-", "-", "-", f"{x['generated'] / x['wall_s']:.0f}"]
            else:
                rows.append(
                    [r + 1, "(b) REBASE", f"{x['wall_s']:.2f}", x["generated"], x["sequences"], x["policy_calls"]]
                )
                rows[-1] += [
                    f"{x['policy_s']:.2f}",
                    f"{x['reward_s']:.2f}",
                    f"{x['count_tokens_s']:.2f}",
                    f"{x['other_s']:.2f}",
                ]
                rows[-1].append(f"{x['generated'] / (x['wall_s'] - x['reward_s'] - x['reward_count_tokens_s']):.0f}")
    header = "repeat,run,wall s,generated tokens,sequences,vLLM calls,in vLLM generate s,in reward s,in count_tokens s,engine + strategies s"
    print_table([*header.split(","), "tokens/s (reward time out)"], rows)
    for r, rep in enumerate(repeats):
        print(
            f"repeat {r + 1}: b/a (reward time left out) {rep['b_over_a']:.2f}, per token {rep['b_over_a_per_token']:.2f}, "
            f"by CPU time {rep['b_over_a_cpu']:.2f}; "
            f"engine + strategies {100 * rep['engine_share']:.1f}% of (b)'s wall; accuracy {rep['search']['accuracy']:.2f}"
        )
    summary = {
        key: statistics.median(rep[key] for rep in repeats)
        for key in ("b_over_a", "b_over_a_per_token", "b_over_a_cpu", "engine_share")
    }
    print(f"medians over {len(repeats)} repeats: " + ", ".join(f"{k} {v:.3f}" for k, v in summary.items()))
    write_json(args.json, {"args": vars(args), "repeats": repeats, "medians": summary})


if __name__ == "__main__":
    main()
