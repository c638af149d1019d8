"""`reward=remote_prm`: a process reward model served by vLLM (`vllm serve <checkpoint>
--runner pooling ...`, docs/scaling.md), scored through the server's `/pooling` endpoint.

The PRM is the one the reward config `cost_as` names (e.g. `vllm_toy_prm`): its adapter and
tokenizer render and tokenize (question, steps) here, exactly as `reward=vllm_prm` does, and
the server receives those token ids as they are (no re-tokenization, so a step tag cannot be
lost). It runs token-level classification (`task: token_classify`) over every position and a
step's score is read at its position as `reward=vllm_prm` reads it (`step_scores`).

One engine reward call is sent as requests of at most `batch_size` paths, up to `concurrency`
of them at once over one kept httpx client. Transient failures (connection refused or reset,
timeouts, HTTP 429 and 5xx) are retried with backoff until `retry_timeout_s`, and a bad
request, a malformed reply or a server still down after it fails in one line naming the URL
(search/openai_http.py, shared with `policy=openai`).

The ledger charges each path as `cost_as`'s model would be charged (`PRMInput.charge`): its
FLOPs from that checkpoint's config, its whole input computed unless that config reads a
prefix cache (`cache_mb`). vLLM skips reading its own prefix cache for token-level pooling
(`skip_reading_prefix_cache` defaults to true for `token_classify`), so the server does
compute every path whole. With an incremental config the engine asks for a path's new steps
only, and only their scores are returned.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import httpx
import torch

from infscale.rewards.hf_prm import checkpoint_hash
from infscale.rewards.prm_adapters import Encoding
from infscale.rewards.prm_cost import PRMInput, ReadsLikePRMInput, load_reward_config
from infscale.rewards.vllm_prm import step_scores
from infscale.search.backends import BackendError, RewardModel, ScoreRequest, ScoreResult
from infscale.search.batching import LARGE
from infscale.search.openai_http import Retrier, new_client, one_line, post_json, run_all

log = logging.getLogger(__name__)


class RemotePRM(ReadsLikePRMInput, RewardModel):
    outcome = False
    preferred_batch = LARGE  # engine.max_batch: auto (search/batching.py)

    def __init__(
        self,
        task: Any = None,
        *,
        name: str,
        url: str,
        model: str,
        cost_as: str | Mapping[str, Any],
        api_key: str | None,
        concurrency: int,
        batch_size: int,
        request_timeout_s: float,
        retry_timeout_s: float,
        backoff_s: float,
        max_backoff_s: float,
    ) -> None:
        if not str(url).startswith(("http://", "https://")):
            raise ValueError(f"reward.url: {url!r} is not an http(s) URL, e.g. http://127.0.0.1:8000")
        if not model or str(model) == "???":
            raise ValueError("reward.model must name the served PRM (as the server knows it: --served-model-name)")
        if not cost_as or str(cost_as) == "???":
            raise ValueError("reward.cost_as must name the served checkpoint's reward config, e.g. vllm_toy_prm")
        for key, value in (("concurrency", concurrency), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"reward.{key} must be a whole number >= 1, got {value!r}")
        config = load_reward_config(cost_as) if isinstance(cost_as, str) else dict(cost_as)
        cost = PRMInput.from_reward_config(config, task)
        self.adapter, self.spec, self.max_length, self.task = cost.adapter, cost.spec, cost.max_length, task
        self.incremental, self.cache = cost.incremental, cost.cache
        self._encodings: dict[ScoreRequest, Encoding] = {}
        self.checkpoint_hash = checkpoint_hash(str(config["path"]))
        self.name, self.model, self.endpoint = str(name), str(model), f"{str(url).rstrip('/')}/pooling"
        self.api_key, self.concurrency, self.batch_size = api_key, concurrency, batch_size
        self.retrier = Retrier("reward", self.name, log, request_timeout_s, retry_timeout_s, backoff_s, max_backoff_s)
        self._client = self._new_client()

    charge = PRMInput.charge

    @property
    def retries(self) -> int:
        return self.retrier.retries

    def _new_client(self) -> httpx.Client:
        return new_client(self.concurrency, self.retrier.request_timeout_s, self.api_key)

    def score(self, requests: list[ScoreRequest]) -> list[ScoreResult]:
        encodings = self.encode_checked(requests)
        todo = [i for i, e in enumerate(encodings) if e.positions]
        batches = [todo[k : k + self.batch_size] for k in range(0, len(todo), self.batch_size)]
        client = self._client
        try:
            replies = run_all(
                lambda b, cancel: self._pool(client, [encodings[i] for i in batches[b]], b, cancel),
                list(range(len(batches))),
                self.concurrency,
            )
        except BaseException:  # abandoned requests may hold the pool's connections until they time out
            self._client = self._new_client()
            client.close()
            raise
        results = [ScoreResult([], 0, 0) for _ in requests]
        for b, batch in enumerate(batches):
            for i, rows in zip(batch, replies[b]):
                positions = list(encodings[i].positions[requests[i].known :])
                results[i] = ScoreResult(step_scores(rows, positions), *self.charge(requests[i]))
        return results

    def _pool(
        self, client: httpx.Client, encodings: list[Encoding], seed: int, cancel: threading.Event
    ) -> list[torch.Tensor]:
        """One `/pooling` request (with its retries): each encoding's per-position rows."""
        body = {"model": self.model, "input": [list(e.ids) for e in encodings], "task": "token_classify"}

        def attempt(endpoint: str, timeout: float) -> list[torch.Tensor]:
            return self._parse(post_json(client, endpoint, body, timeout, self.retrier.who), encodings)

        return self.retrier.call(attempt, lambda _: self.endpoint, seed, cancel)

    def _parse(self, payload: Any, encodings: list[Encoding]) -> list[torch.Tensor]:
        def malformed(what: str) -> BackendError:
            return BackendError(
                f"reward '{self.name}': {self.endpoint} sent a malformed reply ({what}): {one_line(str(payload))!r}"
            )

        try:
            items = sorted(payload["data"], key=lambda item: item["index"])
            rows = [torch.tensor(item["data"], dtype=torch.float64) for item in items]
        except (KeyError, TypeError, ValueError, RuntimeError):
            raise malformed("no data[].index and data[].data of numbers") from None
        if [item["index"] for item in items] != list(range(len(encodings))):
            raise malformed(f"{len(items)} results for {len(encodings)} inputs")
        for encoding, data in zip(encodings, rows):
            if data.dim() not in (1, 2) or data.shape[0] != len(encoding.ids):
                raise malformed(f"{tuple(data.shape)} values for an input of {len(encoding.ids)} tokens")
        return rows
