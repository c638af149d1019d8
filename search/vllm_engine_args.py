"""vLLM engine arguments from a config, shared by `policy=vllm` and `reward=vllm_prm`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_DTYPES = ("auto", "float32", "bfloat16", "float16")
# LLM(...) arguments taken from the config as they are (None: vLLM's default).
ENGINE_KEYS = (
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "gpu_memory_utilization",
    "max_model_len",
    "max_num_seqs",
    "max_num_batched_tokens",
    "enforce_eager",
    "swap_space",
    "quantization",
    "trust_remote_code",
    "revision",
    "kv_cache_dtype",
    "cpu_offload_gb",
    "enable_chunked_prefill",
)

# The other config keys `engine_kwargs` reads.
CONFIG_KEYS = (
    "path",
    "tokenizer",
    "dtype",
    "block_size",
    "engine_args",
    "kv_cache_space_gib",
    "in_process",
    "engine_seed",
    "enable_prefix_caching",
)


def engine_kwargs(cfg: Mapping[str, Any], *, block_size_key: str = "block_size") -> dict[str, Any]:
    """The `vllm.LLM` arguments of a `policy=vllm` or `reward=vllm_prm` config.

    Also sets the environment that vLLM reads at import/start: `kv_cache_space_gib`
    (`VLLM_CPU_KVCACHE_SPACE`, the CPU build's KV cache in GiB) and `in_process`
    (`VLLM_ENABLE_V1_MULTIPROCESSING=0` and the single-process executor).
    """
    dtype = str(cfg["dtype"])
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    path = cfg.get("path")
    if not path:
        raise ValueError("path must name a checkpoint (a local Hugging Face folder or a hub id)")
    if str(path).startswith(("/", ".", "~")) and not Path(str(path)).expanduser().exists():
        raise ValueError(f"path {path!r} does not exist")
    kwargs: dict[str, Any] = {"model": str(path), "dtype": dtype, "seed": int(cfg["engine_seed"])}
    if cfg.get("tokenizer"):
        kwargs["tokenizer"] = str(cfg.get("tokenizer"))
    block = cfg.get(block_size_key)
    if block is not None:
        if int(block) < 1:
            raise ValueError(f"{block_size_key} must be positive, got {block}")
        kwargs["block_size"] = int(block)
    for key in ENGINE_KEYS:
        if cfg.get(key) is not None:
            kwargs[key] = cfg.get(key)
    memory = kwargs.get("gpu_memory_utilization")
    if memory is not None and not 0 < float(memory) <= 1:
        raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {memory}")
    kwargs.update(dict(cfg.get("engine_args") or {}))
    if cfg.get("kv_cache_space_gib") is not None:
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(int(cfg.get("kv_cache_space_gib")))
    if cfg.get("in_process"):
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        kwargs.setdefault("distributed_executor_backend", "uni")
    return kwargs


def require_vllm() -> None:
    """A one-line error where vLLM is not installed."""
    try:
        import vllm  # noqa: F401
    except ImportError as error:
        raise ValueError(
            "the vLLM backends need vLLM: pip install 'infscale[vllm]' (GPU), or `make .venv-vllm` for the CPU build"
        ) from error


def _plain(cfg: Any) -> dict[str, Any]:
    """A DictConfig (or mapping) as a plain dict, nested containers included."""
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    return dict(cfg)
