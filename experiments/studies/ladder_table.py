"""The README's toy_sum ladder table, read from the checkpoints' model cards (written by the
ladder's training run, experiments/training/ladder.py): each policy's held-out greedy, one
sample and majority@16 accuracy, and toy_sum_prm's PRM-weighted@16 on that policy's samples
(task seed 0, 800 problems, 64 samples each).

    python -m infscale.experiments.studies.ladder_table [--write README.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from infscale.budgets.model_spec import ModelSpec
from infscale.experiments.analysis import blocks
from infscale.experiments.app.resolvers import package_path

BLOCK = "toy_sum_ladder"
PAGES = ("README.md",)  # the pages that carry the block
COMMAND = f"python -m infscale.experiments.studies.ladder_table --write {' '.join(PAGES)}"
POLICIES = ("toy_sum_xs", "toy_sum_s", "toy_sum_m")
PRM = "toy_sum_prm"


def card(name: str) -> dict[str, Any]:
    path = Path(package_path(f"tasks/toy_checkpoints/{name}/model_card.json"))
    if not path.exists():
        raise ValueError(f"{name}: no model card at {path}")
    return json.loads(path.read_text())


def nonembedding_parameters(name: str) -> int:
    config = json.loads(Path(package_path(f"tasks/toy_checkpoints/{name}/config.json")).read_text())
    return ModelSpec.from_config(config).n_nonembed


def table() -> str:
    weighted = card(PRM)["heldout_test"]
    rows = [
        f"| policy (non-embedding parameters, T) | greedy | one sample | majority@16 | PRM-weighted@16 (`{PRM}`) |",
        "|---|---|---|---|---|",
    ]
    for name in POLICIES:
        policy = card(name)
        test = policy["heldout_test"]
        size = f"{round(nonembedding_parameters(name) / 1000)}k, {policy['temperature']}"
        cells = [test["greedy"], test["one_sample"], test["majority@16"], weighted[name]["weighted"]["16"]]
        rows.append(f"| `{name}` ({size}) | " + " | ".join(f"{value:.3f}" for value in cells) + " |")
    return "\n".join(rows)


def block() -> str:
    return blocks.wrap(BLOCK, COMMAND, table())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, nargs="*", default=[], help="pages whose toy_sum_ladder block to replace")
    args = parser.parse_args()
    text = block()
    blocks.write_pages(args.write, BLOCK, text)
    if not args.write:
        print(text)


if __name__ == "__main__":
    main()
