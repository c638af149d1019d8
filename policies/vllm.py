"""`policy=vllm`: an offline `vllm.LLM` with prefix caching as the policy.

One `generate` call of the engine is one `LLM.generate` call: every sample of every request
goes in together and vLLM's scheduler batches them. Sample j of a request is submitted as
its own sequence with seed `seed + j` (exactly what vLLM does internally for `n > 1`), so
its text does not depend on the other requests, and its own prefix-cache hit count is
visible.

Accounting. A request's prompt is charged once (as the engine's ledger expects): the
number of its tokens served from vLLM's prefix cache is `num_cached_tokens` of its first
sample, which was scheduled before its siblings, so it counts blocks left by earlier calls
and by earlier requests of this call (other nodes of the same tree share the problem and
their common steps). vLLM caches whole blocks (`block_size` tokens; the CPU attention
kernel takes multiples of 32), so a prompt shorter than one block never hits.

Prompts are tokenized here with the checkpoint's tokenizer and passed as token ids, so
`count_tokens` is exactly what vLLM reads. EOS is not counted as a generated token (as in
`policy=hf`); a step keeps its stop string, anything after it is dropped.

On CPU, `LLM` starts an engine process and a worker process (spawned): build the policy
under `if __name__ == "__main__":` (the `infscale-run` entry point is), or set
`in_process: true`, which runs vLLM's engine in this process (no spawn, quicker start).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infscale.budgets.model_spec import ModelSpec
from infscale.search.backends import GenerationRequest, GenerationResult, Sample
from infscale.search.batching import LARGE
from infscale.search.vllm_engine_args import _plain, engine_kwargs, require_vllm


class VLLMPolicy:
    """A causal LM served by an offline `vllm.LLM` (GPU build or the CPU build)."""

    preferred_batch = LARGE  # engine.max_batch: auto (search/batching.py)

    def __init__(self, task: Any = None, **options: Any) -> None:
        cfg = _plain(options)
        kwargs = engine_kwargs(cfg)
        require_vllm()
        kwargs.setdefault("enable_prefix_caching", bool(cfg["enable_prefix_caching"]))
        from transformers import AutoConfig
        from vllm import LLM
        from vllm.platforms import current_platform

        if current_platform.is_cpu():
            # vLLM rewinds a seeded request's generator after a partial (chunked) prefill,
            # which CPU generators cannot do ("CPU Generator does not use offset").
            kwargs.setdefault("enable_chunked_prefill", False)

        self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.name = str(cfg.get("name") or Path(str(cfg["path"])).name)
        self.spec = ModelSpec.from_config(
            AutoConfig.from_pretrained(str(cfg["path"]), trust_remote_code=bool(cfg.get("trust_remote_code")))
        )
        self.max_model_len = int(self.llm.llm_engine.model_config.max_model_len)
        self.skip_special_tokens = bool(cfg["skip_special_tokens"])
        self._eos = self._eos_ids()
        self._ids: dict[str, list[int]] = {}

    def _eos_ids(self) -> set[int]:
        ids = set()
        config = self.llm.llm_engine.model_config
        generation = config.try_get_generation_config() or {}
        for value in (
            generation.get("eos_token_id"),
            getattr(config.hf_config, "eos_token_id", None),
            self.tokenizer.eos_token_id,
        ):
            if value is not None:
                ids.update(value if isinstance(value, (list, tuple)) else [value])
        return ids

    def encode(self, text: str) -> list[int]:
        """The token ids vLLM reads for `text` (the tokenizer's special tokens included)."""
        if text not in self._ids:
            if len(self._ids) > 200_000:
                self._ids.clear()
            self._ids[text] = list(self.tokenizer.encode(text))
        return self._ids[text]

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        prompts, params, owners = [], [], []
        for i, r in enumerate(requests):
            validate_request(r)
            ids = self.encode(r.prompt)
            room = self.max_model_len - len(ids)
            if room < 1 and r.n > 0 and r.max_tokens > 0:
                raise ValueError(f"prompt of {len(ids)} tokens leaves no room in max_model_len={self.max_model_len}")
            for j in range(r.n if r.max_tokens > 0 else 0):
                prompts.append(TokensPrompt(prompt_token_ids=ids))
                params.append(
                    SamplingParams(
                        n=1,
                        seed=r.seed + j,
                        temperature=r.temperature,
                        max_tokens=min(r.max_tokens, room),
                        stop=[r.stop] if r.until == "step" and r.stop else None,
                        include_stop_str_in_output=True,
                        skip_special_tokens=self.skip_special_tokens,
                        skip_clone=True,  # one fresh object per sequence: vLLM's deep copy of each is wasted
                    )
                )
                owners.append((i, j))
        outputs = self.llm.generate(prompts, params, use_tqdm=False) if prompts else []
        samples: list[list[Sample]] = [[Sample(text="", tokens=0, finish="length")] * r.n for r in requests]
        cached = [0] * len(requests)
        for (i, j), output in zip(owners, outputs):
            samples[i][j] = self._sample(output.outputs[0], requests[i])
            if j == 0:
                cached[i] = int(output.num_cached_tokens or 0)
        results = []
        for i, r in enumerate(requests):
            length = len(self.encode(r.prompt)) if r.n > 0 and r.max_tokens > 0 else 0
            results.append(
                GenerationResult(samples=samples[i], prompt_computed=length - cached[i], prompt_cached=cached[i])
            )
        return results

    def _sample(self, completion: Any, request: GenerationRequest) -> Sample:
        tokens = list(completion.token_ids)
        if completion.finish_reason == "length":
            return Sample(text=completion.text, tokens=len(tokens), finish="length")
        if completion.finish_reason != "stop":
            raise RuntimeError(f"vLLM ended a sample with finish_reason={completion.finish_reason!r}")
        if isinstance(completion.stop_reason, str):
            return Sample(text=completion.text, tokens=len(tokens), finish="step")
        text = completion.text
        if tokens and tokens[-1] in self._eos:
            eos = self.tokenizer.decode([tokens[-1]])
            text = text[: -len(eos)] if eos and text.endswith(eos) else text
            tokens = tokens[:-1]
        return Sample(text=text, tokens=len(tokens), finish="end")


def validate_request(r: GenerationRequest) -> None:
    """A one-line error for a request no backend can serve."""
    if r.n < 0 or r.max_tokens < 0 or r.temperature < 0:
        raise ValueError(f"bad generation request (n={r.n}, max_tokens={r.max_tokens}, temperature={r.temperature})")
    if r.until not in ("step", "end"):
        raise ValueError(f"request.until must be 'step' or 'end', got {r.until!r}")
