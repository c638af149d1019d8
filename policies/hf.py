"""Transformers backend for any causal LM: batched, left-padded sampling with a KV cache.

The sampling loop is written here (not `model.generate`) so that
- sample j of a request draws its noise from its own generator seeded `seed + j` (Gumbel-max
  over the logits), so its text does not depend on which other rows share the batch;
- `until="step"` stops a row as soon as its text contains the stop string (kept, anything
  the same token carried past it is dropped), EOS ends it ("end"), `max_tokens` cuts it
  ("length");
- each request's prompt is prefilled once per chunk and its KV cache repeated for its n
  samples (siblings share their parent's prefill), and finished rows leave the cache;
- with `policy.cache_mb` > 0 every prefilled prompt's keys and values stay in a bounded LRU
  cache (`search/prefix_cache.py`) and a later prompt that begins with one of them (a
  child's prompt begins with its parent's) prefills only the rest: `prompt_cached` says how
  many tokens came from the cache. Samples are the same with the cache on or off.

With `chat_template: true` the problem prompt is wrapped in the tokenizer's chat template
(user turn + generation prompt) and the steps generated so far follow the assistant tag.
The problem prompt is recognised as the longest prompt of the task that prefixes the
request text; a text that starts with no task prompt is wrapped whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from infscale.budgets.model_spec import ModelSpec
from infscale.policies.task_prompts import TaskPrompts
from infscale.search.backends import GenerationRequest, GenerationResult, Sample
from infscale.search.batching import DEFAULT
from infscale.search.prefix_cache import PrefixCache, check_cache_mb, forward_with_prefixes

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class _Row:
    request: int
    seed: int
    generated: list[int]
    text: str = ""
    finish: str | None = None


class HFPolicy:
    """A Hugging Face causal LM as a policy (CPU or CUDA)."""

    preferred_batch = DEFAULT  # engine.max_batch: auto; larger calls it splits into its own batches

    def __init__(
        self,
        path: str,
        *,
        name: str | None,
        device: str,
        dtype: str,
        max_batch: int,
        chat_template: bool,
        gguf_file: str | None,
        system_prompt: str | None,
        threads: int | None,
        cache_mb: float,
        task: Any = None,
    ) -> None:
        """`task` (when given) lets a chat-templated policy tell the task's prompts from continuations."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if dtype not in _DTYPES:
            raise ValueError(f"policy.dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        if max_batch < 1:
            raise ValueError(f"policy.max_batch must be positive, got {max_batch}")
        if gguf_file is None and not Path(path).exists():
            raise ValueError(f"policy.path {path!r} does not exist")
        self.cache = PrefixCache(check_cache_mb(cache_mb, "policy.cache_mb"))
        if threads:
            torch.set_num_threads(int(threads))
        extra = {"gguf_file": gguf_file} if gguf_file else {}
        self.tokenizer = AutoTokenizer.from_pretrained(path, **extra)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=_DTYPES[dtype], **extra).to(device).eval()
        self.device = torch.device(device)
        self.name = name or Path(path).name
        self.spec = ModelSpec.from_config(self.model.config)
        self.max_batch = max_batch
        self.chat_template = chat_template
        self.system_prompt = system_prompt
        self.task_prompts = (
            TaskPrompts(p.prompt for p in task.problems()) if chat_template and task else TaskPrompts([])
        )
        self._eos = self._eos_ids()
        self._pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else min(self._eos)
        self._pieces = [self.tokenizer.decode([i]) for i in range(len(self.tokenizer))]

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (getattr(self.model, "generation_config", None), self.model.config, self.tokenizer):
            value = getattr(source, "eos_token_id", None)
            if value is not None:
                ids.update(value if isinstance(value, (list, tuple)) else [value])
        if not ids:
            raise ValueError(f"model {self.name!r} declares no EOS token")
        return ids

    def render(self, text: str) -> str:
        """The text the model reads for a request prompt (chat-wrapped if configured)."""
        if not self.chat_template:
            return text
        problem, steps = self.task_prompts.split(text) or (text, "")
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        messages.append({"role": "user", "content": problem})
        wrapped = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return wrapped + steps

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(self.render(text), add_special_tokens=not self.chat_template)["input_ids"]

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        for r in requests:
            if r.n < 0 or r.max_tokens < 0 or r.temperature < 0:
                raise ValueError(
                    f"bad generation request (n={r.n}, max_tokens={r.max_tokens}, temperature={r.temperature})"
                )
            if r.until not in ("step", "end"):
                raise ValueError(f"request.until must be 'step' or 'end', got {r.until!r}")
        encoded = [self._encode(r.prompt) for r in requests]
        samples: list[list[Sample | None]] = [
            [Sample(text="", tokens=0, finish="length") if r.max_tokens == 0 else None] * r.n for r in requests
        ]
        computed, cached = [0] * len(requests), [0] * len(requests)
        for chunk in self._chunks(requests):
            found, drawn = self._run_chunk(requests, encoded, chunk)
            for (i, j), sample in drawn.items():
                samples[i][j] = sample
            for i, hit in found.items():
                computed[i] += len(encoded[i]) - hit
                cached[i] += hit
        return [
            GenerationResult(samples=list(s), prompt_computed=computed[i], prompt_cached=cached[i])
            for i, s in enumerate(samples)
        ]

    def _chunks(self, requests: list[GenerationRequest]) -> list[list[tuple[int, int]]]:
        """(request, sample) pairs in groups of at most `max_batch` rows."""
        pairs = [(i, j) for i, r in enumerate(requests) for j in range(r.n) if r.max_tokens > 0]
        return [pairs[k : k + self.max_batch] for k in range(0, len(pairs), self.max_batch)]

    @torch.no_grad()
    def _run_chunk(
        self, requests: list[GenerationRequest], encoded: list[list[int]], chunk: list[tuple[int, int]]
    ) -> tuple[dict[int, int], dict[tuple[int, int], Sample]]:
        """({request: prompt tokens served from the cache}, {(request, sample): sample})."""
        order = sorted({i for i, _ in chunk})
        slot = {i: k for k, i in enumerate(order)}
        # The last prompt token is always run: its logits start the sampling.
        prefixes = [self.cache.longest(encoded[i], len(encoded[i]) - 1) for i in order]
        run = forward_with_prefixes(self.model, [encoded[i] for i in order], prefixes, self._pad, self.device)
        for k, i in enumerate(order):
            if self.cache.enabled:
                self.cache.put(encoded[i], run.row_kv(k, len(encoded[i])))
        cache, out, mask = run.cache, run.output, run.mask
        pick = torch.tensor([slot[i] for i, _ in chunk], device=self.device)
        cache.batch_select_indices(pick)
        logits = out.logits[pick, -1, :].float()
        positions = torch.tensor([len(encoded[i]) - 1 for i, _ in chunk], device=self.device)
        mask = mask[pick]
        rows = [_Row(i, requests[i].seed + j, []) for i, j in chunk]
        noise = _Noise([row.seed for row in rows], logits.shape[-1])
        temperature = torch.tensor([requests[i].temperature for i, _ in chunk], dtype=torch.float32)
        alive = list(range(len(rows)))
        while alive:
            tokens = _pick(logits.cpu(), temperature[alive], noise.next(alive))
            keep = []
            for k, a in enumerate(alive):
                self._advance(rows[a], int(tokens[k]), requests[rows[a].request])
                if rows[a].finish is None:
                    keep.append(k)
            if not keep:
                break
            if len(keep) < len(alive):
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                tokens, mask, positions = tokens[index.cpu()], mask[index], positions[index]
                alive = [alive[k] for k in keep]
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
            positions = positions + 1
            out = self.model(
                input_ids=tokens.to(self.device)[:, None],
                attention_mask=mask,
                position_ids=positions[:, None],
                past_key_values=cache,
                use_cache=True,
            )
            logits = out.logits[:, -1, :].float()
        found = {i: c for i, (c, _) in zip(order, prefixes)}
        return found, {
            pair: Sample(text=row.text, tokens=len(row.generated), finish=row.finish) for pair, row in zip(chunk, rows)
        }

    def _advance(self, row: _Row, token: int, request: GenerationRequest) -> None:
        if token in self._eos:
            row.text, row.finish = self.tokenizer.decode(row.generated), "end"
            return
        row.generated.append(token)
        if request.until == "step" and request.stop and request.stop[-1] in self._pieces[token]:
            text = self.tokenizer.decode(row.generated)
            cut = text.find(request.stop)
            if cut >= 0:
                row.text, row.finish = text[: cut + len(request.stop)], "step"
                return
        if len(row.generated) >= request.max_tokens:
            row.text, row.finish = self.tokenizer.decode(row.generated), "length"


def _pick(logits: torch.Tensor, temperature: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Argmax where the temperature is 0, else Gumbel-max with each row's own uniforms."""
    greedy = logits.argmax(-1)
    hot = temperature.clamp(min=1e-6)[:, None]
    sampled = (logits / hot - torch.log(-torch.log(uniform.clamp(1e-20, 1.0)))).argmax(-1)
    return torch.where(temperature == 0, greedy, sampled)


class _Noise:
    """Per-row uniforms for Gumbel-max: row r's t-th draw comes from its own generator
    (seeded with the row's seed), drawn in blocks of positions, whatever the batch."""

    def __init__(self, seeds: list[int], vocab: int) -> None:
        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        self.block = max(1, min(16, 262_144 // vocab))
        self.vocab = vocab
        self.buffer = torch.empty((len(seeds), self.block, vocab))
        self.t = 0

    def next(self, alive: list[int]) -> torch.Tensor:
        """The uniforms of this position for the alive rows (all rows advance together)."""
        if self.t % self.block == 0:
            for r in alive:
                self.buffer[r] = torch.rand((self.block, self.vocab), generator=self.generators[r])
        out = self.buffer[alive, self.t % self.block]
        self.t += 1
        return out
