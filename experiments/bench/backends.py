"""The price of searching instead of sampling on vLLM, and the engine's share of a real run.

    python experiments/bench/backends.py [--problems 100] [--n 16] [--repeats 2] [--json PATH] [override ...]

(b) the engine's REBASE run over the first `--problems` toy problems with `policy=vllm_toy_small`
    (`reward=toy_prm` unless overridden), then
(a) the same vLLM engine generating, flat in one `generate` call, as many tokens as (b)
    generated: every problem's prompt sampled `--n` times, EOS ignored, the lengths chosen
    so the total matches.
(c) the same vLLM engine generating (b)'s own sequences (every prompt (b) sent and as many
    tokens as (b) got for it, EOS ignored) in one `generate` call, after a pass that put every
    one of those prompts in vLLM's prefix cache: the tree's sequences with no search, no
    rounds and every prompt block vLLM can reuse reused. c/a is what the tree's shape costs on
    this backend (more, shorter sequences, each prefilling what its cache blocks do not hold);
    b/c is the engine's own excess (its rounds, its bookkeeping).
(d), (e) what (c) would cost with finer KV reuse than this backend has: (c) again, each prompt cut
    to the blocks vLLM serves it plus only the tokens a cache reusing KV at token granularity
    (d) or in 16-token blocks (e) would still compute. Same sequences, same generated tokens,
    same cached prefix; only the prefilled tail shrinks (the cut prompts read fewer tokens, so
    these arms price the prefill, not the text). d/a, e/a: the floor such a backend would set.
b/a is the cost of search over plain sampling, with (b)'s time in the reward model left out
(flat sampling scores nothing): its `score` calls and its `count_tokens` (the engine asks the
reward model to tokenize each path for the ledger; the encoding is cached for `score`). Where
(b)'s time goes is reported too: inside vLLM's generate calls, inside the reward model,
inside the backends' `count_tokens`, and the rest, the engine and the strategies (its share
of (b)'s whole wall time). Each of the `--repeats` runs every arm, in the order (b), (a), (c),
(d), (e) and reversed in the next, each with vLLM's prefix cache emptied first (and a fresh
reward model for (b)).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def recorded_sequences(world: World) -> Iterator[list[tuple[list[int], int]]]:
    """Inside the block, every sequence the policy generates: (its prompt's token ids, the
    number of tokens it got)."""
    policy, sequences = world.policy, []
    generate = policy.generate

    def recording(requests: list[Any]) -> list[Any]:
        results = generate(requests)
        for request, result in zip(requests, results):
            ids = policy.encode(request.prompt)
            sequences.extend((ids, sample.tokens) for sample in result.samples)
        return results

    policy.generate = recording
    try:
        yield sequences
    finally:
        del policy.generate


def replay_run(world: World, sequences: list[tuple[list[int], int]]) -> dict[str, Any]:
    """(b)'s sequences in one generate call, every prompt first put in the prefix cache."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    llm, block = world.policy.llm, kv_block(world)
    inputs = [TokensPrompt(prompt_token_ids=ids) for ids, _ in sequences]
    llm.reset_prefix_cache()
    llm.generate(inputs, [SamplingParams(max_tokens=1, skip_clone=True) for _ in inputs], use_tqdm=False)
    params = [
        SamplingParams(seed=k, temperature=1.0, max_tokens=max(tokens, 1), ignore_eos=True, skip_clone=True)
        for k, (_, tokens) in enumerate(sequences)
    ]
    started, started_cpu = time.perf_counter(), time.process_time()
    outputs = llm.generate(inputs, params, use_tqdm=False)
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "sequences": len(sequences),
        "generated": sum(len(o.outputs[0].token_ids) for o in outputs),
        "prompt_tokens": sum(len(ids) for ids, _ in sequences),
        "prompt_cached": sum(int(o.num_cached_tokens or 0) for o in outputs),
        "prompt_cacheable": sum(len(ids) // block * block for ids, _ in sequences),
        "prompts_of_whole_blocks": sum(len(ids) % block == 0 for ids, _ in sequences),
        "block_size": block,
    }


def kv_block(world: World) -> int:
    """The policy's vLLM KV-cache block, in tokens: the unit its prefix cache reuses."""
    return int(world.policy.llm.llm_engine.vllm_config.cache_config.block_size)


def finer_reuse(sequences: list[tuple[list[int], int]], block: int, reuse: int) -> list[tuple[list[int], int]]:
    """`sequences` with each prompt cut to the whole `block`s vLLM serves it from its cache plus
    what a cache of `reuse`-token blocks (`reuse` dividing `block`) would still compute: a
    prompt of L tokens keeps (L - 1) // block * block + L - (L - 1) // reuse * reuse of them."""
    if block % reuse:
        raise ValueError(f"reuse={reuse} must divide the KV block of {block} tokens")
    cut = []
    for ids, tokens in sequences:
        served = (len(ids) - 1) // block * block
        computed = len(ids) - (len(ids) - 1) // reuse * reuse
        cut.append((ids[: served + computed], tokens))
    return cut


ARMS = ("search", "flat", "replay", "granular", "half_blocks")
REUSE = {"granular": 1, "half_blocks": 16}


def ratios(runs: dict[str, dict[str, Any]]) -> dict[str, float]:
    search, flat, replay = runs["search"], runs["flat"], runs["replay"]
    search_less_reward = search["wall_s"] - search["reward_s"] - search["reward_count_tokens_s"]
    return {
        "b_over_a": search_less_reward / flat["wall_s"],
        "c_over_a": replay["wall_s"] / flat["wall_s"],
        "d_over_a": runs["granular"]["wall_s"] / flat["wall_s"],
        "e_over_a": runs["half_blocks"]["wall_s"] / flat["wall_s"],
        "b_over_c": search_less_reward / replay["wall_s"],
        "c_over_a_cpu": replay["cpu_s"] / flat["cpu_s"],
        "b_over_a_per_token": (search_less_reward / search["generated"]) / (flat["wall_s"] / flat["generated"]),
        "b_over_a_cpu": (search["cpu_s"] - search["reward_cpu_s"]) / flat["cpu_s"],
        "engine_share": search["other_s"] / search["wall_s"],
    }


def main() -> None:
    args, world = rebase_world(__doc__, repeats=2)
    flat_run(world, 1, len(world.problems))  # warm-up: first-call costs stay out of (a)
    repeats: list[dict[str, Any]] = []
    sequences: list[tuple[list[int], int]] = []
    for r in range(args.repeats):
        runs: dict[str, dict[str, Any]] = {}
        order = ARMS if r % 2 == 0 else ARMS[::-1]
        for name in order:  # the search is seeded: it generates what the last repeat's did
            if name == "search":
                with recorded_sequences(world) as sequences:
                    runs[name] = engine_run(world, {})
                runs[name]["policy_prompt"] = runs[name]["calls"]["policy_prompt"]
                runs[name]["policy_cached"] = runs[name]["calls"]["policy_cached"]
            elif name == "flat":
                runs[name] = flat_run(world, args.n, sum(tokens for _, tokens in sequences))
            elif name == "replay":
                runs[name] = replay_run(world, sequences)
            else:
                runs[name] = replay_run(world, finer_reuse(sequences, kv_block(world), REUSE[name]))
        repeats.append({"order": list(order), **runs} | ratios(runs))
    report(args, repeats)


LABELS = {
    "search": "(b) REBASE",
    "flat": "(a) flat sampling, one call",
    "replay": "(c) (b)'s sequences, one call",
    "granular": "(d) (c) with token-granular reuse",
    "half_blocks": "(e) (c) with 16-token blocks",
}


def report(args: argparse.Namespace, repeats: list[dict[str, Any]]) -> None:
    print(f"{machine_line()}, REBASE n={args.n}, {args.problems} problems, overrides={args.overrides}")
    rows = []
    for r, rep in enumerate(repeats):
        for name in rep["order"]:
            x = rep[name]
            if name == "search":
                prompt, cached = x["policy_prompt"], x["policy_cached"]
                calls, inside = x["policy_calls"], x["policy_s"]
                rest = [f"{x['reward_s']:.2f}", f"{x['count_tokens_s']:.2f}", f"{x['other_s']:.2f}"]
                wall_less_reward = x["wall_s"] - x["reward_s"] - x["reward_count_tokens_s"]
            else:
                prompt = x.get("prompt_tokens", "-")
                cached = x.get("prompt_cached", "-")
                calls, inside, rest, wall_less_reward = 1, x["wall_s"], ["-", "-", "-"], x["wall_s"]
            rows.append(
                [r + 1, LABELS[name], f"{x['wall_s']:.2f}", x["generated"], x["sequences"], prompt, cached, calls]
                + [f"{inside:.2f}", *rest, f"{x['generated'] / wall_less_reward:.0f}"]
            )
    header = (
        "repeat,run,wall s,generated tokens,sequences,prompt tokens,of them cached,vLLM calls,in vLLM generate s,"
        "in reward s,in count_tokens s,engine + strategies s,tokens/s (reward time out)"
    )
    print_table(header.split(","), rows)
    for r, rep in enumerate(repeats):
        print(
            f"repeat {r + 1}: b/a (reward time left out) {rep['b_over_a']:.2f}, per token {rep['b_over_a_per_token']:.2f}, "
            f"by CPU time {rep['b_over_a_cpu']:.2f}; c/a {rep['c_over_a']:.2f} (CPU {rep['c_over_a_cpu']:.2f}), "
            f"b/c {rep['b_over_c']:.2f}; d/a {rep['d_over_a']:.2f}, e/a {rep['e_over_a']:.2f}; engine + strategies {100 * rep['engine_share']:.1f}% of (b)'s wall; "
            f"accuracy {rep['search']['accuracy']:.2f}; (c) prompt tokens in whole cache blocks "
            f"{rep['replay']['prompt_cacheable']}"
        )
    keys = ("b_over_a", "b_over_a_per_token", "b_over_a_cpu", "c_over_a", "c_over_a_cpu", "b_over_c")
    keys += ("d_over_a", "e_over_a", "engine_share")
    summary = {key: statistics.median(rep[key] for rep in repeats) for key in keys}
    print(f"medians over {len(repeats)} repeats: " + ", ".join(f"{k} {v:.3f}" for k, v in summary.items()))
    write_json(args.json, {"args": vars(args), "repeats": repeats, "medians": summary})


if __name__ == "__main__":
    main()
