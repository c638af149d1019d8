"""HTTP for `policy=openai`: one kept `httpx.Client` per policy and one POST to a
`/completions` endpoint, sorted into a reply, a failure worth another try, or a one-line error.

The client keeps connections alive between requests (vLLM's server speaks HTTP/1.1 with
keep-alive), at most `concurrency` of them (`httpx.Limits`). Its timeout applies to each phase
of a request (connect, send, wait for a free connection, each read) as the socket timeout of
`urllib` did; the caller passes every try its own, cut to what is left of the sample's deadline.
Retrying is left to the caller: httpx's transport retries only connection failures, at once
and without backoff, and would hide tries from the deadline, the count and the warnings.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from infscale.search.backends import BackendError

_TRANSIENT_HTTP = {408, 409, 425, 429, 500, 502, 503, 504}
_PHASES = {httpx.ConnectTimeout: "connect", httpx.ReadTimeout: "read", httpx.WriteTimeout: "write"}


class TransientError(RuntimeError):
    """A failure worth retrying (the server is down, restarting or overloaded)."""


def new_client(concurrency: int, timeout_s: float, api_key: str | None) -> httpx.Client:
    """A client for up to `concurrency` requests at once over kept-alive connections."""
    return httpx.Client(
        headers={"Authorization": f"Bearer {api_key}"} if api_key else None,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        timeout=httpx.Timeout(timeout_s),
    )


def post_completion(client: httpx.Client, url: str, body: dict[str, Any], timeout_s: float, name: str) -> Any:
    """The JSON that `url`/completions answers to `body`. Connection failures, timeouts,
    replies cut off and HTTP 408/409/425/429/5xx raise TransientError; any other status, or a
    body that is not JSON, raises a one-line BackendError naming the policy `name` and `url`."""
    endpoint = f"{url}/completions"
    try:
        response = client.post(endpoint, json=body, timeout=timeout_s)
    except httpx.TimeoutException as error:
        raise TransientError(f"{_PHASES.get(type(error), 'pool')} timeout ({timeout_s:.3g} s)") from None
    except httpx.RemoteProtocolError as error:
        raise TransientError(f"reply cut off ({one_line(str(error))})") from None
    except httpx.TransportError as error:
        raise TransientError(one_line(str(error)) or type(error).__name__) from None
    except httpx.HTTPError as error:
        raise BackendError(f"policy '{name}': {endpoint} failed: {one_line(str(error))}") from None
    if not response.is_success:
        detail = one_line(response.content.decode(errors="replace"))
        if response.status_code in _TRANSIENT_HTTP:
            raise TransientError(f"HTTP {response.status_code}: {detail}")
        raise BackendError(f"policy '{name}': {endpoint} refused the request (HTTP {response.status_code}): {detail}")
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise BackendError(
            f"policy '{name}': {endpoint} answered HTTP {response.status_code} with a body that is not JSON: "
            f"{one_line(response.content.decode(errors='replace'))!r}"
        ) from None


def one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]
