"""`policy=openai`: the policy served by OpenAI-compatible completions endpoints
(`vllm serve`, one or several replicas).

Every sample is one `/completions` request with `n=1` and seed `seed + j`, sent from a
thread pool (`concurrency` requests in flight). All requests of one problem go to the same
replica (chosen by a stable hash of the problem's prompt), so that replica's prefix cache
serves the problem's growing tree; a replica that fails is skipped for the next one.

Transient failures (connection refused or reset, timeouts, HTTP 429 and 5xx) are retried
with exponential backoff until `retry_timeout_s` has passed, long enough to ride out a
server restart; other HTTP errors (a bad request) fail at once with the server's message.
Nothing is lost: a sample is either returned whole or retried.

Accounting comes from each response's `usage`: `completion_tokens` (less the EOS token,
which vLLM counts, so the numbers match `policy=vllm` and `policy=hf`), `prompt_tokens`,
and `prompt_tokens_details.cached_tokens` (vLLM reports it when started with
`--enable-prompt-tokens-details`; a server that reports nothing is taken as uncached). As
with `policy=vllm`, a request's prompt is charged once, with its first sample's numbers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infscale.budgets.model_spec import ModelSpec
from infscale.policies.task_prompts import TaskPrompts
from infscale.policies.vllm import validate_request
from infscale.search.backends import GenerationRequest, GenerationResult, Sample

log = logging.getLogger(__name__)
_TRANSIENT_HTTP = {408, 409, 425, 429, 500, 502, 503, 504}


class TransientError(RuntimeError):
    """A failure worth retrying (the server is down, restarting or overloaded)."""


@dataclass(frozen=True)
class _Reply:
    sample: Sample
    prompt_tokens: int
    cached_tokens: int


class OpenAIPolicy:
    """Completions from one or more OpenAI-compatible servers."""

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

        if not model:
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
        if request_timeout_s <= 0 or retry_timeout_s < 0 or backoff_s <= 0:
            raise ValueError("policy.request_timeout_s and policy.backoff_s must be positive, retry_timeout_s >= 0")
        from transformers import AutoTokenizer

        self.endpoints = [str(u).rstrip("/") for u in endpoints]
        self.model = model
        self.name = name or Path(model).name
        self.spec = spec
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer)
        self.api_key = api_key
        self.concurrency = concurrency
        self.request_timeout_s = request_timeout_s
        self.retry_timeout_s = retry_timeout_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.extra_body = dict(extra_body or {})
        self.task_prompts = TaskPrompts(task_prompts or [])
        self._eos = {self.tokenizer.eos_token_id} - {None}
        self.retries = 0
        self._lock = threading.Lock()

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
        replies: dict[tuple[int, int], _Reply] = {}
        if jobs:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(jobs))) as pool:
                futures = {job: pool.submit(self._complete, requests[job[0]], job[1]) for job in jobs}
                replies = {job: future.result() for job, future in futures.items()}
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

    def _complete(self, request: GenerationRequest, j: int) -> _Reply:
        body = json.dumps(self._body(request, j)).encode()
        start = self.replica(request.prompt)
        deadline = time.monotonic() + self.retry_timeout_s
        rng = random.Random(request.seed + j)
        attempt = 0
        while True:
            url = self.endpoints[(start + attempt) % len(self.endpoints)]
            try:
                return self._parse(self._post(url, body), request)
            except TransientError as error:
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** min(attempt, 16)) * (0.5 + rng.random() / 2)
                if time.monotonic() + delay > deadline:
                    raise RuntimeError(
                        f"policy '{self.name}': {url} still failing after {attempt + 1} tries: {error}"
                    ) from error
                with self._lock:
                    self.retries += 1
                log.warning("policy %s: %s failed (%s); retry %d in %.1fs", self.name, url, error, attempt + 1, delay)
                time.sleep(delay)
                attempt += 1

    def _post(self, url: str, body: bytes) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        http = urllib.request.Request(f"{url}/completions", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(http, timeout=self.request_timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            if error.code in _TRANSIENT_HTTP:
                raise TransientError(f"HTTP {error.code}: {detail}") from error
            raise ValueError(
                f"policy '{self.name}': {url} refused the request (HTTP {error.code}): {detail}"
            ) from error
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
            raise TransientError(str(getattr(error, "reason", error))) from error
        except json.JSONDecodeError as error:
            raise TransientError(f"unreadable response: {error}") from error

    def _parse(self, payload: dict[str, Any], request: GenerationRequest) -> _Reply:
        try:
            choice = payload["choices"][0]
            usage = payload["usage"]
            text = choice.get("text") or ""
            tokens = int(usage["completion_tokens"])
            prompt_tokens = int(usage["prompt_tokens"])
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise TransientError(f"malformed completion response: {str(payload)[:200]}") from error
        cached = int(((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0)
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
        else:
            raise TransientError(f"completion ended with finish_reason={reason!r}")
        return _Reply(Sample(text=text, tokens=tokens, finish=finish), prompt_tokens, cached)
