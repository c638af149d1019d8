"""Install the ladder's checkpoints (the outputs of `experiments/training/ladder.py`) into
`tasks/toy_checkpoints/`: each model folder with the character tokenizer's files and a
`model_card.json` holding its recipe, training record and held-out numbers.

    python -m infscale.experiments.training.ladder_install OUT_FOLDER_OF_THE_LADDER_RUN
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from infscale.experiments.training.ladder_ops import POLICIES, PRMS
from infscale.tasks.toy_arith import CHECKPOINTS
from infscale.tasks.toy_tokenizer import build_char_tokenizer


def add_tokenizer(folder: Path) -> None:
    """The character tokenizer, marked as a plain fast tokenizer (as `train.save` does)."""
    build_char_tokenizer().save_pretrained(str(folder))
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2) + "\n")


def card(name: str, report: dict[str, Any], folder: Path) -> dict[str, Any]:
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()[:12]
    common = {"name": name, "task": "toy_sum", "trained_on": report.get("device"), "sha256_12": digest}
    args = {k: report["args"][k] for k in report["args"] if k not in ("work", "out", "worker")}
    if name in POLICIES:
        test = report["test"][name]
        return {
            **common,
            **report["policies"][name],
            "losses": report["policies"][name]["losses"][-5:],
            "kept_step": report["selection"]["chosen_step"],
            "temperature": report["selection"]["temperature"][name],
            "data": "toy_sum training seed 1000000 (levels in turn, uniformly random legal path, no injected errors)",
            "ladder_args": args,
            "heldout_test": {k: test[k] for k in ("greedy", "one_sample", "majority@16", "majority", "by_level")},
        }
    prm = report["prms"][name]
    return {
        **common,
        "init_from": PRMS[name],
        "data": report["prm_data"],
        "kept_step": prm["kept_step"],
        "steps": prm["steps"],
        "seconds": prm["seconds"],
        "validation_history": prm["history"],
        "ladder_args": args,
        "heldout_test": {policy: report["test"][policy]["prm"][name] for policy in POLICIES},
    }


def install(out: Path, destination: Path = CHECKPOINTS) -> list[str]:
    report = json.loads((out / "ladder_report.json").read_text())
    names = []
    with tempfile.TemporaryDirectory() as scratch:
        for archive in ("ladder_policies.tar", "ladder_prms.tar"):
            with tarfile.open(out / archive) as tar:
                tar.extractall(scratch, filter="data")
        for name in [*POLICIES, *PRMS]:
            target = destination / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(Path(scratch) / name, target)
            add_tokenizer(target)
            (target / "model_card.json").write_text(json.dumps(card(name, report, target), indent=1) + "\n")
            names.append(name)
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the ladder run's --out folder")
    args = parser.parse_args(argv)
    print("installed", ", ".join(install(args.out)))


if __name__ == "__main__":
    main()
