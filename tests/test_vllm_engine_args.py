"""`engine_kwargs`: a `policy=vllm` / `reward=vllm_prm` config to `vllm.LLM` arguments, and the
environment vLLM reads. Pure mapping, checked without vLLM (so `make test` covers it)."""

from __future__ import annotations

import os
import sys

import pytest
from omegaconf import OmegaConf

from infscale.search.vllm_engine_args import CONFIG_KEYS, ENGINE_KEYS, _plain, engine_kwargs

BASE = {"path": "org/model", "dtype": "bfloat16", "engine_seed": 7}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)


def test_the_minimal_config_gives_model_dtype_and_seed_only():
    assert engine_kwargs(dict(BASE)) == {"model": "org/model", "dtype": "bfloat16", "seed": 7}
    assert "VLLM_CPU_KVCACHE_SPACE" not in os.environ and "VLLM_ENABLE_V1_MULTIPROCESSING" not in os.environ


def test_every_option_is_passed_through():
    cfg = {
        **BASE,
        "engine_seed": "3",
        "tokenizer": "org/tok",
        "block_size": "16",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 1,
        "max_model_len": 4096,
        "enforce_eager": False,
        "engine_args": {"max_num_seqs": 9, "extra": "x"},
        "kv_cache_space_gib": 3.7,
        "in_process": True,
    }
    assert engine_kwargs(cfg) == {
        "model": "org/model",
        "dtype": "bfloat16",
        "seed": 3,
        "tokenizer": "org/tok",
        "block_size": 16,
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 1,
        "max_model_len": 4096,
        "enforce_eager": False,
        "max_num_seqs": 9,
        "extra": "x",
        "distributed_executor_backend": "uni",
    }
    assert os.environ["VLLM_CPU_KVCACHE_SPACE"] == "3"
    assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"


def test_engine_args_override_and_in_process_keeps_a_chosen_executor():
    cfg = {**BASE, "in_process": True, "engine_args": {"distributed_executor_backend": "mp", "seed": 1}}
    kwargs = engine_kwargs(cfg)
    assert kwargs["distributed_executor_backend"] == "mp" and kwargs["seed"] == 1


def test_a_reward_reads_its_own_block_size_key():
    cfg = {**BASE, "block_size": 99, "prm_block_size": 32}
    assert engine_kwargs(cfg, block_size_key="prm_block_size")["block_size"] == 32
    assert engine_kwargs({**BASE, "block_size": 1})["block_size"] == 1


def test_a_local_path_that_exists_is_accepted(tmp_path):
    assert engine_kwargs({**BASE, "path": str(tmp_path)})["model"] == str(tmp_path)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"dtype": "float8"}, "dtype must be one of auto, float32, bfloat16, float16, got 'float8'"),
        ({"path": ""}, r"path must name a checkpoint \(a local Hugging Face folder or a hub id\)$"),
        ({"path": None}, "path must name a checkpoint"),
        ({"path": "/no/such/folder"}, "path '/no/such/folder' does not exist"),
        ({"path": "./no/such"}, "path './no/such' does not exist"),
        ({"path": "~/no/such/infscale"}, "path '~/no/such/infscale' does not exist"),
        ({"block_size": 0}, "block_size must be positive, got 0"),
        ({"gpu_memory_utilization": 0}, r"gpu_memory_utilization must be in \(0, 1\], got 0"),
        ({"gpu_memory_utilization": 1.01}, r"gpu_memory_utilization must be in \(0, 1\], got 1.01"),
    ],
)
def test_bad_options_are_refused_with_their_name(change, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        engine_kwargs({**BASE, **change})


def test_the_key_lists_name_the_options_read():
    assert len(ENGINE_KEYS) == len(set(ENGINE_KEYS)) == 14
    assert {"path", "tokenizer", "dtype", "block_size", "engine_args"} <= set(CONFIG_KEYS)


def test_plain_turns_a_config_into_nested_dicts():
    cfg = OmegaConf.create({"a": 1, "b": {"c": [1, 2]}, "d": "${a}"})
    assert _plain(cfg) == {"a": 1, "b": {"c": [1, 2]}, "d": 1}
    assert type(_plain(cfg)["b"]) is dict
    assert _plain({"x": 2}) == {"x": 2}


def test_without_vllm_the_backends_say_how_to_install_it(monkeypatch):
    from infscale.search.vllm_engine_args import require_vllm

    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ImportError
    with pytest.raises(ValueError) as error:
        require_vllm()
    assert str(error.value) == (
        "the vLLM backends need vLLM: pip install 'infscale[vllm]' (GPU), or `make .venv-vllm` for the CPU build"
    )
