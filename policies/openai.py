"""`policy=openai`: the policy served by OpenAI-compatible completions endpoints
(`vllm serve`, one or several replicas).

Every sample is one `/completions` request with `n=1` and seed `seed + j`, sent from a
thread pool through one kept httpx client (`concurrency` requests in flight over as many
kept-alive connections; search/openai_http.py). All requests of one problem go to the same
replica (chosen by a stable hash of the problem's prompt), so that replica's prefix cache
serves the problem's growing tree; a replica that fails is skipped for the next one.

Transient failures (connection refused or reset, a reply cut off mid-body, timeouts, HTTP 429
and 5xx) are retried with exponential backoff; `retry_timeout_s` is a total deadline for one
sample, its tries and waits together (each try's timeout is cut to what is left), long enough
to ride out a server restart. After it, or at once for a bad request (other 4xx) or a malformed
reply (unreadable JSON, a wrong shape, token counts missing or negative), the call fails with
one line: the endpoint, the HTTP status and the server's last message. Retry warnings are
rate-limited (one per endpoint every `WARN_EVERY_S`, with a count). Requests run on daemon threads
and the caller waits in short slices, so Ctrl-C stops a call within a second; the requests it
abandons keep their connections until they end, and the policy takes a fresh client, so the
next call never waits for them. Nothing is lost: a sample is either returned whole or retried.

Accounting comes from each response's `usage`: `completion_tokens` (less the EOS token,
which vLLM counts, so the numbers match `policy=vllm` and `policy=hf`), `prompt_tokens`,
and `prompt_tokens_details.cached_tokens` (vLLM reports it when started with
`--enable-prompt-tokens-details`; a server that reports nothing is taken as uncached). As
with `policy=vllm`, a request's prompt is charged once, with its first sample's numbers.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from infscale.budgets.model_spec import ModelSpec
from infscale.policies.task_prompts import TaskPrompts
from infscale.policies.vllm import validate_request
from infscale.search.backends import BackendError, GenerationRequest, GenerationResult, Sample
from infscale.search.batching import LARGE
from infscale.search.openai_http import Retrier, TransientError, new_client, one_line, post_json, run_all

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Reply:
    sample: Sample
    prompt_tokens: int
    cached_tokens: int


class OpenAIPolicy:
    """Completions from one or more OpenAI-compatible servers."""

    preferred_batch = LARGE  # engine.max_batch: auto (search/batching.py)

    def __init__(
        self,
        *,
        model: str,
        endpoints: list[str] | str,
        name: str | None,
        path: str | None,
        tokenizer: str | None,
        api_key: str | None,
        concurrency: int,
        request_timeout_s: float,
        retry_timeout_s: float,
        backoff_s: float,
        max_backoff_s: float,
        extra_body: Mapping[str, Any] | None,
        task: Any = None,
    ) -> None:
        """`path` (a local copy of the model's config, for FLOPs) defaults to `tokenizer`, which
        defaults to `model`; `task` lets requests be pinned to a replica by their problem."""
        from transformers import AutoConfig

        if not model or str(model) == "???":
            raise ValueError("policy.model must name the served model (as the server knows it)")
        tokenizer = str(tokenizer or path or model)
        spec = ModelSpec.from_config(AutoConfig.from_pretrained(str(path or tokenizer)))
        endpoints = [str(e) for e in ([endpoints] if isinstance(endpoints, str) else endpoints or [])]
        task_prompts = [p.prompt for p in task.problems()] if task is not None else None
        if not endpoints:
            raise ValueError("policy.endpoints must list at least one base URL, e.g. http://127.0.0.1:8000/v1")
        for url in endpoints:
            if not str(url).startswith(("http://", "https://")):
                raise ValueError(f"policy.endpoints: {url!r} is not an http(s) URL")
        if concurrency < 1:
            raise ValueError(f"policy.concurrency must be positive, got {concurrency}")
        from transformers import AutoTokenizer

        self.endpoints = [str(u).rstrip("/") for u in endpoints]
        self.model = model
        self.name = name or Path(model).name
        self.spec = spec
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer)
        self.api_key = api_key
        self.concurrency = concurrency
        self.retrier = Retrier("policy", self.name, log, request_timeout_s, retry_timeout_s, backoff_s, max_backoff_s)
        self.extra_body = dict(extra_body or {})
        self.task_prompts = TaskPrompts(task_prompts or [])
        self._eos = {self.tokenizer.eos_token_id} - {None}
        self._client = self._new_client()

    @property
    def retries(self) -> int:
        return self.retrier.retries

    def _new_client(self) -> httpx.Client:
        return new_client(self.concurrency, self.retrier.request_timeout_s, self.api_key)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def replica(self, prompt: str) -> int:
        """The endpoint that serves `prompt`: a stable hash of its problem's prompt."""
        key = (self.task_prompts.split(prompt) or (prompt, ""))[0]
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % len(self.endpoints)

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        for r in requests:
            validate_request(r)
        jobs = [(i, j) for i, r in enumerate(requests) if r.max_tokens > 0 for j in range(r.n)]
        client = self._client
        try:
            replies = run_all(
                lambda job, cancel: self._complete(client, requests[job[0]], job[1], cancel), jobs, self.concurrency
            )
        except BaseException:  # abandoned requests may hold the pool's connections until they time out
            self._client = self._new_client()
            client.close()
            raise
        results = []
        for i, r in enumerate(requests):
            if r.max_tokens == 0 or r.n == 0:
                results.append(GenerationResult([Sample("", 0, "length")] * r.n, 0, 0))
                continue
            first = replies[(i, 0)]
            results.append(
                GenerationResult(
                    samples=[replies[(i, j)].sample for j in range(r.n)],
                    prompt_computed=first.prompt_tokens - first.cached_tokens,
                    prompt_cached=first.cached_tokens,
                )
            )
        return results

    def _body(self, request: GenerationRequest, j: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt,
            "n": 1,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed + j,
            "include_stop_str_in_output": True,
        }
        if request.until == "step" and request.stop:
            body["stop"] = [request.stop]
        body.update(self.extra_body)
        return body

    def _complete(self, client: httpx.Client, request: GenerationRequest, j: int, cancel: threading.Event) -> _Reply:
        body = self._body(request, j)
        start = self.replica(request.prompt)

        def attempt(endpoint: str, timeout: float) -> _Reply:
            return self._parse(post_json(client, endpoint, body, timeout, self.retrier.who), request, endpoint)

        def endpoint(tries: int) -> str:
            return f"{self.endpoints[(start + tries) % len(self.endpoints)]}/completions"

        return self.retrier.call(attempt, endpoint, request.seed + j, cancel)

    def _parse(self, payload: Any, request: GenerationRequest, endpoint: str) -> _Reply:
        def malformed(what: str) -> BackendError:
            return BackendError(
                f"policy '{self.name}': {endpoint} sent a malformed reply ({what}): {one_line(str(payload))!r}"
            )

        try:
            choice = payload["choices"][0]
            usage = payload["usage"]
            text = choice.get("text") or ""
            if not isinstance(text, str):
                raise TypeError("text")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise malformed("no choices[0].text or no usage") from None
        tokens = _count(usage, "completion_tokens")
        prompt_tokens = _count(usage, "prompt_tokens")
        details = usage.get("prompt_tokens_details") or {}
        cached = _count(details, "cached_tokens") if details.get("cached_tokens") is not None else 0
        if tokens is None or prompt_tokens is None or cached is None or cached > prompt_tokens:
            raise malformed("usage token counts missing, negative or inconsistent")
        reason, stop_reason = choice.get("finish_reason"), choice.get("stop_reason")
        if reason == "length":
            finish = "length"
        elif (
            request.until == "step"
            and request.stop
            and (
                stop_reason == request.stop
                or (stop_reason is None and "stop_reason" not in choice and text.endswith(request.stop))
            )
        ):
            finish = "step"
            if not text.endswith(request.stop):
                text += request.stop
        elif reason == "stop":
            finish = "end"
            tokens = max(0, tokens - 1) if "stop_reason" in choice else tokens
        else:  # e.g. "abort" while a server shuts down: worth another try
            raise TransientError(f"completion ended with finish_reason={reason!r}")
        return _Reply(Sample(text=text, tokens=tokens, finish=finish), prompt_tokens, cached)


def _count(usage: Any, key: str) -> int | None:
    """A token count as the server reported it: a non-negative integer, else None."""
    value = usage.get(key) if isinstance(usage, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
