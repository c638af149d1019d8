"""The price of searching instead of sampling on vLLM, for the toy policy.

    python experiments/bench/backends.py [--problems 100] [--n 8] [override ...]

(b) the engine's REBASE run over the first `--problems` toy problems with `policy=vllm_toy_small`
    (wall time less the time inside the reward model), then
(a) the same vLLM engine generating, flat in one `generate` call, as many tokens as (b)
    generated: every problem's prompt sampled `--n` times, EOS ignored, the lengths chosen
    so the total matches.
b/a is the cost of search over plain sampling. Where (b)'s time goes is reported too: time
inside vLLM's generate calls, the number of calls and sequences, and the rest (engine,
strategies, tokenization). Extra Hydra overrides (e.g. `reward=vllm_toy_prm`) are passed on.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

from hydra import compose, initialize_config_module

from infscale.experiments.app import resolvers
from infscale.experiments.app.build import build


def search_run(overrides: list[str], n_problems: int, n: int) -> tuple[object, dict[str, float]]:
    resolvers.register()
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        cfg = compose(
            config_name="config",
            overrides=[
                "task=toy_arith",
                "policy=vllm_toy_small",
                "reward=toy_prm",
                "strategy=rebase",
                f"strategy.n={n}",
                "progress=false",
                *overrides,
            ],
        )
    parts = build(cfg)
    problems = parts.task.problems()[:n_problems]
    started = time.perf_counter()
    outcomes = list(parts.engine.run(problems, parts.strategy))
    wall = time.perf_counter() - started
    calls = parts.engine.calls
    ledgers = [o.ledger for o in outcomes]
    return parts, {
        "problems": len(problems),
        "accuracy": sum(parts.task.is_correct(o.decision.answer, o.problem.reference) for o in outcomes)
        / len(outcomes),
        "wall_s": wall,
        "reward_s": calls["reward_s"],
        "search_s": wall - calls["reward_s"],
        "policy_s": calls["policy_s"],
        "policy_calls": calls["policy"],
        "sequences": calls["policy_sequences"],
        "generated": sum(ledger.generated for ledger in ledgers),
        "prompt_computed": sum(ledger.prompt_computed for ledger in ledgers),
        "prompt_cached": sum(ledger.prompt_cached for ledger in ledgers),
    }


def flat_run(policy, prompts: list[str], n: int, tokens: int) -> dict[str, float]:
    """One generate call of len(prompts) * n sequences totalling `tokens` generated tokens."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    sequences = len(prompts) * n
    base, extra = divmod(tokens, sequences)
    inputs, params = [], []
    for k, prompt in enumerate(prompts):
        for j in range(n):
            length = base + (1 if k * n + j < extra else 0)
            inputs.append(TokensPrompt(prompt_token_ids=policy.encode(prompt)))
            params.append(SamplingParams(seed=j, temperature=1.0, max_tokens=max(length, 1), ignore_eos=True))
    started = time.perf_counter()
    outputs = policy.llm.generate(inputs, params, use_tqdm=False)
    wall = time.perf_counter() - started
    return {"wall_s": wall, "sequences": sequences, "generated": sum(len(o.outputs[0].token_ids) for o in outputs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    parts, search = search_run(args.overrides, args.problems, args.n)
    prompts = [p.prompt for p in parts.task.problems()[: args.problems]]
    flat_run(parts.policy, prompts, 1, len(prompts))  # warm-up: first-call costs stay out of (a)
    flat = flat_run(parts.policy, prompts, args.n, search["generated"])
    ratio = search["search_s"] / flat["wall_s"]
    print(
        f"# {platform.processor() or platform.machine()}, python {platform.python_version()}, {time.strftime('%Y-%m-%d')}, "
        f"REBASE n={args.n}, {search['problems']} problems, overrides={args.overrides}"
    )
    print(json.dumps({"search": search, "flat": flat, "b_over_a": ratio}, indent=1))
    print("| run | wall s | generated tokens | sequences | vLLM calls | in vLLM generate s | tokens/s |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| (a) flat sampling, one call | {flat['wall_s']:.2f} | {flat['generated']} | {flat['sequences']} | 1 | "
        f"{flat['wall_s']:.2f} | {flat['generated'] / flat['wall_s']:.0f} |"
    )
    print(
        f"| (b) REBASE, less reward time | {search['search_s']:.2f} | {search['generated']} | {search['sequences']} | "
        f"{search['policy_calls']} | {search['policy_s']:.2f} | {search['generated'] / search['search_s']:.0f} |"
    )
    print(
        f"b/a = {ratio:.2f}; reward model {search['reward_s']:.2f} s (excluded); engine and strategies "
        f"{search['search_s'] - search['policy_s']:.2f} s; prompt tokens computed {search['prompt_computed']}, "
        f"served from cache {search['prompt_cached']}"
    )


if __name__ == "__main__":
    main()
