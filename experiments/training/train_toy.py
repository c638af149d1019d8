"""Train the toy world's models from scratch on CPU: `toy_small`, `toy_large`, `toy_prm`.

    python -m infscale.experiments.training.train_toy toy_small            # then toy_large, then toy_prm

Policies (Llama architecture, character tokenizer) learn `tasks.toy_arith` solutions with
each step's result replaced by a wrong value with probability `error_rate`, so that they
sample their own mistakes. The PRM (Qwen2 backbone with Qwen2.5-Math-PRM's head, see
`rewards/qwen2_prm.py`) learns first-error step labels of the policies' own sampled
solutions, read at the newline that ends each step. Training data come from seeds at or
above `tasks.toy_arith.TRAIN_SEED_BASE`, which evaluation refuses. Each run is seeded,
resumable (state under `outputs/train_toy/<name>/`) and writes safetensors, config,
tokenizer files and `model_card.json` into `tasks/toy_checkpoints/<name>/`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from infscale.experiments.training.toy_policy import RECIPES, STATE_ROOT, Recipe, train_policy
from infscale.experiments.training.toy_prm import train_prm
from infscale.tasks.toy_arith import CHECKPOINTS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="initialisation seed")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--continue-steps", type=int, default=None, help="train a further stage of this many steps from the saved model"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    recipe = RECIPES[args.name]
    if args.steps is not None:
        recipe = Recipe(**{**recipe.__dict__, "steps": args.steps})
    out = args.out or CHECKPOINTS / args.name
    state_dir = STATE_ROOT / args.name
    if args.name == "toy_prm":
        train_prm(args.name, recipe, out, state_dir, args.continue_steps, args.seed)
    else:
        train_policy(args.name, recipe, out, state_dir, args.continue_steps, args.seed)
    print(f"saved {args.name} to {out}")


if __name__ == "__main__":
    main()
