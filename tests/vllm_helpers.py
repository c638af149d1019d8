"""Shared by the `vllm`-marked tests: tiny checkpoints vLLM's CPU build accepts, and vLLM
engines run in the test process (`in_process`: no spawned engine, a start of seconds).

vLLM's CPU attention needs head_dim >= 32 and KV blocks of a multiple of 32 tokens. Two
in-process engines share vLLM's global parallel state, so one is released (and collected)
before the next starts.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
VLLM_BIN = Path(sys.executable).parent
CPU_ENGINE = {
    "dtype": "float32",
    "block_size": 32,
    "gpu_memory_utilization": 0.2,
    "kv_cache_space_gib": 1,
    "enforce_eager": True,
    "in_process": True,
    "max_model_len": 512,
}


def tiny_causal_lm(
    folder: Path, tokenizer: Any, *, config_cls: Any = None, model_cls: Any = None, std: float = 0.3
) -> Path:
    """A randomly initialised Llama-family model (head_dim 32) saved with `tokenizer`.

    Weights drawn with a large `std` make the logits peaked, so greedy decoding has no
    near-ties that float rounding in another engine could flip.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    config_cls, model_cls = config_cls or LlamaConfig, model_cls or LlamaForCausalLM
    torch.manual_seed(0)
    config = config_cls(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    model = model_cls(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, std)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def release(owner: Any) -> None:
    """Drop an in-process vLLM engine (and collect it) before another starts."""
    owner.llm = None
    gc.collect()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# `vllm serve` flags of a PRM scored token by token (reward=remote_prm), as reward=vllm_prm runs it.
PRM_SERVE_ARGS = ("--runner", "pooling", "--pooler-config", '{"task": "token_classify", "tok_pooling_type": "ALL"}')


class VLLMServer:
    """`vllm serve` of a local checkpoint on 127.0.0.1, started, killed and restarted by a test;
    `args` are extra flags (PRM_SERVE_ARGS, `--tokenizer`)."""

    def __init__(self, model: Path, name: str, log: Path, port: int | None = None, args: tuple[str, ...] = ()) -> None:
        self.model, self.name, self.log, self.args = model, name, log, args
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 400) -> None:
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
        command = [
            # `vllm serve` itself: the `vllm` script looks up the distribution "vllm", which the
            # CPU build is not named, so the same server module is run directly.
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--served-model-name",
            self.name,
            "--dtype",
            "float32",
            "--block-size",
            "32",
            "--max-model-len",
            "512",
            "--enable-prefix-caching",
            "--enable-prompt-tokens-details",
            "--enforce-eager",
            "--gpu-memory-utilization",
            "0.2",
            "--distributed-executor-backend",
            "uni",
            "--no-enable-chunked-prefill",  # as policies/vllm.py does on CPU: seeded requests cannot be chunked there
            *self.args,
        ]
        handle = open(self.log, "a")
        self.process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vllm serve exited with {self.process.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except OSError:
                time.sleep(1)
        raise RuntimeError(f"vllm serve did not come up in {timeout} s; see {self.log}")

    def served(self) -> int:
        """Completions answered so far (access-log lines)."""
        return self.log.read_text(errors="replace").count('POST /v1/completions HTTP/1.1" 200')

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None


def toy_arith_paths(n: int = 24) -> list[Any]:
    """Score requests of toy_arith's first `n` problems, a right and a half-wrong worked
    solution of each (`worked_solution`, seeded by the problem's position)."""
    import random

    from infscale.experiments.app.build import load
    from infscale.search.backends import ScoreRequest
    from infscale.tasks.toy_arith import parse_prompt, worked_solution

    task = load("task", "toy_arith", seed=0, n=n)
    requests = []
    for seed, problem in enumerate(task.problems()):
        start, ops = parse_prompt(problem.prompt)
        for error_rate in (0.0, 0.5):
            solution = worked_solution(start, ops, random.Random(seed), error_rate)
            requests.append(ScoreRequest(problem.prompt, tuple(task.split_steps(solution))))
    return requests
