"""What a transformers PRM reads and what it costs, without its weights.

`PRMInput` turns a `ScoreRequest` into the token ids a PRM reads (its adapter's format,
its tokenizer, its length limit) and carries the PRM's `ModelSpec`, read from the
checkpoint's `config.json`. `reward=hf_prm` encodes through it, and `reward=oracle` /
`reward=noisy_oracle` with `reward.cost_as=<reward config>` charge through it, so an
oracle standing in for a PRM is charged exactly the tokens and FLOPs that PRM would be.

A charged oracle also scores as that PRM's config says (`charge`): with `incremental: true`
the engine asks it for a path's new steps only, and with `cache_mb` > 0 the path of the
steps scored before is served from the PRM's prefix cache (the PRM stored it when it scored
them, and an ancestor is always scored in an earlier call than its descendants), so only the
tokens after it are charged as computed, at their real positions, as `reward=hf_prm` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

from infscale.budgets.model_spec import ModelSpec
from infscale.rewards.prm_adapters import Encoding, PRMAdapter, adapter_class
from infscale.search.backends import ScoreRequest
from infscale.search.vllm_engine_args import CONFIG_KEYS, ENGINE_KEYS
from infscale.tasks.base import PromptRenderingTask

# Keys of a reward config that are not adapter options (the rest are, as in reward=hf_prm).
OWN_KEYS = frozenset(
    {"_target_", "name", "backend", "path", "adapter", "tokenizer", "batch_size", "max_length", "device", "dtype"}
    | {"incremental", "cache_mb"}
)
_COSTED_TARGETS = {"infscale.rewards.hf_prm.HFPRM", "infscale.rewards.vllm_prm.VLLMPRM"}


class PRMInput:
    """A PRM's input format and FLOP model: `encode`, `count_tokens` and `spec`."""

    def __init__(
        self,
        adapter: PRMAdapter,
        spec: ModelSpec,
        max_length: int,
        task: Any = None,
        incremental: bool = False,
        cache: bool = False,
    ) -> None:
        if max_length < 1:
            raise ValueError(f"reward.max_length must be >= 1, got {max_length}")
        self.adapter, self.spec, self.max_length, self.task = adapter, spec, int(max_length), task
        self.incremental, self.cache = incremental, cache
        self._encodings: dict[ScoreRequest, Encoding] = {}

    @classmethod
    def from_checkpoint(
        cls,
        path: str,
        adapter: str,
        *,
        tokenizer: str | None = None,
        max_length: int | None = None,
        options: Mapping[str, Any] | None = None,
        config: Any = None,
        task: Any = None,
        incremental: bool = False,
        cache: bool = False,
    ) -> PRMInput:
        """Tokenizer and config from the checkpoint (`config`: an already loaded one)."""
        from transformers import AutoConfig, AutoTokenizer

        if not path:
            raise ValueError("reward.path must name a PRM checkpoint (a directory or a hub id)")
        kind = adapter_class(adapter)
        config = config if config is not None else AutoConfig.from_pretrained(path)
        context = getattr(config, "max_position_embeddings", None)
        return cls(
            kind(AutoTokenizer.from_pretrained(tokenizer or path), options),
            ModelSpec.from_config(config),
            int(max_length or context or 4096),
            task,
            check_incremental(incremental, kind),
            cache,
        )

    @classmethod
    def from_reward_config(cls, cost_as: str | Mapping[str, Any], task: Any = None) -> PRMInput:
        """The cost model of a transformers PRM named by its reward config: a name in
        `conf/reward/` (e.g. `toy_prm`) or the config mapping itself."""
        cfg = load_reward_config(cost_as) if isinstance(cost_as, str) else dict(cost_as)
        where = cost_as if isinstance(cost_as, str) else cfg.get("name", "<mapping>")
        if cfg.get("_target_") not in _COSTED_TARGETS or not cfg.get("path") or not cfg.get("adapter"):
            raise ValueError(
                f"reward.cost_as={where}: needs a transformers PRM config (hf_prm or vllm_prm "
                f"with path and adapter), got _target_ {cfg.get('_target_')!r}"
            )
        from infscale.search.prefix_cache import check_cache_mb

        return cls.from_checkpoint(
            str(cfg["path"]),
            cfg["adapter"],
            tokenizer=cfg.get("tokenizer"),
            max_length=cfg.get("max_length"),
            options={k: v for k, v in cfg.items() if k not in OWN_KEYS and k not in _VLLM_KEYS},
            task=task,
            incremental=cfg.get("incremental", False),
            cache=check_cache_mb(cfg.get("cache_mb", 0), "reward.cache_mb") > 0,
        )

    def question(self, prompt: str) -> str:
        """The bare question: tasks that render prompts (chat templates) map them back."""
        return self.task.question_for(prompt) if isinstance(self.task, PromptRenderingTask) else prompt

    def encode(self, request: ScoreRequest) -> Encoding:
        if request not in self._encodings:
            if len(self._encodings) > 100_000:
                self._encodings.clear()
            self._encodings[request] = self.adapter.encode(
                self.question(request.prompt), request.steps, self.max_length
            )
        return self._encodings[request]

    def encode_checked(self, requests: list[ScoreRequest]) -> list[Encoding]:
        """Each request encoded, after checking that its `known` steps may be skipped: only
        with `reward.incremental` and fewer than its steps (`self.name` is the backend's)."""
        encodings = [self.encode(r) for r in requests]
        for request, encoding in zip(requests, encodings):
            steps = len(encoding.positions)
            if request.known and not self.incremental:
                raise ValueError(
                    f"reward '{self.name}' has reward.incremental=false but was asked to score only new steps"
                )
            if not 0 <= request.known < max(steps, 1):
                raise ValueError(f"reward '{self.name}': {request.known} known steps of a {steps}-step trajectory")
        return encodings

    def count_tokens(self, request: ScoreRequest) -> int:
        return len(self.encode(request).ids)

    def prefix_tokens(self, request: ScoreRequest) -> int:
        """Leading input positions of `request` fixed by its `known` steps: the path up to the
        last known step's score position (what scoring those steps left in a prefix cache)."""
        encoding = self.encode(request)
        return encoding.positions[request.known - 1] + 1 if request.known and encoding.positions else 0

    def charge(self, request: ScoreRequest) -> tuple[int, int]:
        """(computed, cached) tokens the PRM runs to score `request`: its whole input, less the
        path of its `known` steps where the prefix cache holds it; nothing for an input with
        no step to score."""
        encoding = self.encode(request)
        if not encoding.positions:
            return 0, 0
        cached = self.prefix_tokens(request) if self.cache else 0
        return len(encoding.ids) - cached, cached


def check_incremental(incremental: Any, adapter: type[PRMAdapter]) -> bool:
    """`reward.incremental` must be a boolean, and true only for a prefix-stable adapter."""
    if not isinstance(incremental, bool):
        raise ValueError(f"reward.incremental must be true or false, got {incremental!r}")
    if incremental and not adapter.prefix_stable:
        raise ValueError(
            f"reward.incremental=true needs a prefix-stable PRM, and adapter '{adapter.name}' is not "
            "(its rendering changes earlier positions): set reward.incremental=false"
        )
    return incremental


# vLLM engine options a vllm_prm config may carry; never adapter options.
_VLLM_KEYS = frozenset({*CONFIG_KEYS, *ENGINE_KEYS})


def load_reward_config(name: str) -> dict[str, Any]:
    """`conf/reward/<name>.yaml` of the installed package, its own `defaults` merged first and
    interpolations resolved (the app registers the `pkg_path` resolver the YAMLs use)."""
    from omegaconf import OmegaConf

    folder = resources.files("infscale.conf") / "reward"
    file = folder / f"{name}.yaml"
    if not name or "/" in name or not file.is_file():
        known = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))
        raise ValueError(f"reward.cost_as={name!r} names no reward config (known: {', '.join(known)})")
    cfg = OmegaConf.create(file.read_text())
    merged = OmegaConf.create()
    for parent in cfg.pop("defaults", None) or []:
        if parent != "_self_":
            merged = OmegaConf.merge(merged, load_reward_config(str(parent)))
    merged = OmegaConf.merge(merged, cfg)
    try:
        return OmegaConf.to_container(merged, resolve=True)
    except Exception as error:  # an unregistered resolver or a bad interpolation
        raise ValueError(f"reward.cost_as={name}: cannot resolve conf/reward/{name}.yaml ({error})") from error


class ReadsLikePRMInput:
    """`PRMInput`'s reading methods for a PRM backend holding the same attributes (`adapter`,
    `max_length`, `task`, `incremental`, `name`, `_encodings`): it encodes and counts exactly as
    the cost model does for `reward.cost_as`."""

    question = PRMInput.question
    encode = PRMInput.encode
    count_tokens = PRMInput.count_tokens
    prefix_tokens = PRMInput.prefix_tokens
    encode_checked = PRMInput.encode_checked
