"""`reward=hf_prm`: a process reward model run with transformers, many trajectories per
forward pass. The input format and read-out belong to the PRM family, chosen by
`reward.adapter` (`qwen`, `toy`, `math_shepherd`, `rlhflow`, `skywork`; see
`rewards/prm_adapters/`).

The backbone runs once per batch (right-padded, attention-masked); only the hidden states
at the read positions go through the head, so a causal LM's full vocabulary projection is
never computed. `count_tokens(request)` is exactly the length of the ids the model reads.

Incremental scoring (`reward.incremental`, prefix-stable adapters only): a request with
`known` = k returns the scores of its new steps only. With `reward.cache_mb` > 0 the keys
and values of every scored path (up to its last read position) stay in a bounded LRU cache
(`search/prefix_cache.py`), so a child's path runs only the tokens after the longest cached
prefix, typically its parent's path: the result reports them as computed, the rest as cached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer

from infscale.budgets.model_spec import ModelSpec
from infscale.rewards.prm_adapters import Encoding, PRMAdapter, adapter_class
from infscale.rewards.prm_cost import ReadsLikePRMInput, check_incremental
from infscale.search.backends import RewardModel, ScoreRequest, ScoreResult
from infscale.search.batching import DEFAULT
from infscale.search.prefix_cache import PrefixCache, check_cache_mb, forward_with_prefixes

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}


class HFPRM(ReadsLikePRMInput, RewardModel):
    outcome = False
    preferred_batch = DEFAULT  # engine.max_batch: auto; larger calls it splits into its own batches

    def __init__(
        self,
        path: str,
        adapter: str,
        *,
        name: str,
        tokenizer: str | None,
        batch_size: int,
        max_length: int | None,
        device: str,
        dtype: str,
        task: Any = None,
        incremental: bool,
        cache_mb: float,
        **options: Any,
    ) -> None:
        """`options` are the adapter's own (e.g. Math-Shepherd's `step_tag`); it checks them."""
        if not path:
            raise ValueError("reward.path must name a PRM checkpoint (a directory or a hub id)")
        if batch_size < 1:
            raise ValueError(f"reward.batch_size must be >= 1, got {batch_size}")
        if dtype not in _DTYPES:
            raise ValueError(f"reward.dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        kind = adapter_class(adapter)
        self.incremental = check_incremental(incremental, kind)
        self.cache = PrefixCache(check_cache_mb(cache_mb, "reward.cache_mb"))
        self.name, self.path, self.task, self.batch_size = name, path, task, batch_size
        self.device = torch.device(
            "cuda" if device == "auto" and torch.cuda.is_available() else device if device != "auto" else "cpu"
        )
        self.model = kind.load_model(path, dtype=_DTYPES[dtype]).to(self.device).eval()
        self.adapter: PRMAdapter = kind(AutoTokenizer.from_pretrained(tokenizer or path), options or None)
        self.spec = ModelSpec.from_config(self.model.config)
        context = getattr(self.model.config, "max_position_embeddings", None)
        self.max_length = int(max_length or context or 4096)
        self.checkpoint_hash = checkpoint_hash(path)
        self._encodings: dict[ScoreRequest, Encoding] = {}

    def score(self, requests: list[ScoreRequest]) -> list[ScoreResult]:
        encodings = self.encode_checked(requests)
        results = [ScoreResult([], 0, 0) for _ in requests]
        order = sorted(range(len(requests)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            batch = [i for i in order[start : start + self.batch_size] if encodings[i].positions]
            if batch:
                known = [requests[i].known for i in batch]
                for i, result in zip(batch, self._forward([encodings[i] for i in batch], known)):
                    results[i] = result
        return results

    @torch.inference_mode()
    def _forward(self, batch: Sequence[Encoding], known: Sequence[int]) -> list[ScoreResult]:
        """Scores of each encoding's steps from `known` on, run after its longest cached prefix
        (which ends before the first position read)."""
        pad = self.adapter.tokenizer.pad_token_id
        pad = 0 if pad is None else pad
        if self.cache.enabled:
            prefixes = [self.cache.longest(e.ids, e.positions[k]) for e, k in zip(batch, known)]
            run = forward_with_prefixes(self.model.base_model, [list(e.ids) for e in batch], prefixes, pad, self.device)
            hidden = run.output.last_hidden_state
            where = [(row, run.column(row, p)) for row, (e, k) in enumerate(zip(batch, known)) for p in e.positions[k:]]
            for row, encoding in enumerate(batch):
                end = encoding.positions[-1] + 1
                self.cache.put(encoding.ids[:end], run.row_kv(row, end))
            cached = [c for c, _ in prefixes]
        else:
            hidden = self._full_pass(batch, pad)
            where = [(row, p) for row, (e, k) in enumerate(zip(batch, known)) for p in e.positions[k:]]
            cached = [0] * len(batch)
        rows = torch.tensor([row for row, _ in where])
        cols = torch.tensor([col for _, col in where])
        values = self.adapter.head(self.model, hidden[rows, cols]).float().cpu().tolist()
        out, cursor = [], 0
        for encoding, k, c in zip(batch, known, cached):
            count = len(encoding.positions) - k
            out.append(ScoreResult(values[cursor : cursor + count], len(encoding.ids) - c, c))
            cursor += count
        return out

    def _full_pass(self, batch: Sequence[Encoding], pad: int) -> torch.Tensor:
        """The backbone's hidden states over whole encodings, right-padded, no KV kept."""
        width = max(len(e.ids) for e in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, encoding in enumerate(batch):
            ids[row, : len(encoding.ids)] = torch.tensor(encoding.ids)
            mask[row, : len(encoding.ids)] = 1
        return self.model.base_model(
            input_ids=ids.to(self.device), attention_mask=mask.to(self.device), use_cache=False
        ).last_hidden_state


_WHOLE_FILE = 1 << 28
_EDGE = 1 << 24


def checkpoint_hash(path: str) -> str | None:
    """A short hash of a local checkpoint's config and weight files (None for hub ids).

    Files up to 256 MiB are hashed whole; larger ones by size and their first and last
    16 MiB, so a 7B checkpoint is fingerprinted in well under a second.
    """
    folder = Path(path)
    if not folder.is_dir():
        return None
    digest = hashlib.blake2b(digest_size=8)
    for file in sorted(folder.iterdir()):
        if file.suffix not in {".json", ".safetensors", ".bin"} or not file.is_file():
            continue
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with open(file, "rb") as handle:
            if size <= _WHOLE_FILE:
                digest.update(handle.read())
            else:
                digest.update(handle.read(_EDGE))
                handle.seek(size - _EDGE)
                digest.update(handle.read(_EDGE))
    return digest.hexdigest()
