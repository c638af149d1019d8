"""Throughput of the hf policy backend against a flat `model.generate` on the same prompts.

    python -m infscale.experiments.bench.hf --policy toy_small --batch 64 --repeats 3

Both sample whole solutions at temperature 1 (max 128 new tokens) for the same `--batch`
toy prompts in one batch on CPU; tokens/s counts generated tokens up to and excluding EOS.
The hf backend also stops rows at EOS one by one (finished rows leave the KV cache) and
draws per-row seeded noise; `generate` keeps finished rows padded until the longest ends.
Prints one Markdown row for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time

import torch

from infscale.experiments.app.build import load
from infscale.policies.hf import HFPolicy
from infscale.search.backends import GenerationRequest
from infscale.tasks.toy_arith import CHECKPOINTS


def backend_rate(policy: HFPolicy, prompts: list[str], max_new: int) -> float:
    requests = [GenerationRequest(p, 1, "end", "\n", max_new, 1.0, i) for i, p in enumerate(prompts)]
    tic = time.perf_counter()
    results = policy.generate(requests)
    elapsed = time.perf_counter() - tic
    return sum(s.tokens for r in results for s in r.samples) / elapsed


def generate_rate(policy: HFPolicy, prompts: list[str], max_new: int, seed: int) -> float:
    tokenizer, model = policy.tokenizer, policy.model
    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(seed)
    tic = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            **batch,
            do_sample=True,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    elapsed = time.perf_counter() - tic
    new = out[:, batch["input_ids"].shape[1] :]
    generated = 0
    for row in new.tolist():
        generated += row.index(tokenizer.eos_token_id) if tokenizer.eos_token_id in row else len(row)
    return generated / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="toy_small")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--max-new", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    policy = load("policy", "hf", path=str(CHECKPOINTS / args.policy), max_batch=args.batch)
    prompts = [p.prompt for p in load("task", "toy_arith", seed=0, n=args.batch).problems()]
    backend_rate(policy, prompts[:4], 8)
    ours, flat = [], []
    for r in range(args.repeats):
        ours.append(backend_rate(policy, prompts, args.max_new))
        flat.append(generate_rate(policy, prompts, args.max_new, r))
    a, b = statistics.median(ours), statistics.median(flat)
    date = datetime.date.today().isoformat()
    print(f"hf backend {a:.0f} tok/s, model.generate {b:.0f} tok/s (medians of {args.repeats})")
    print(
        f"| hf policy vs `model.generate`, {args.policy}, batch {args.batch}, T=1 | "
        f"`python -m infscale.experiments.bench.hf --policy {args.policy} --batch {args.batch}` | "
        f"{platform.processor() or platform.machine()}, {args.threads} threads, shared | {date} | "
        f"{a:.0f} vs {b:.0f} tok/s = {a / b:.2f}x |"
    )


if __name__ == "__main__":
    main()
