"""reward=remote_prm without a server: its settings are checked in one line each, and a server
that is not there (nothing listening on the port) ends a scoring call in one line naming the
URL within its retry deadline. tests/test_vllm_remote_prm.py scores against a real one."""

import socket
import time

import pytest

from infscale.experiments.app.build import load
from infscale.search.backends import BackendError, ScoreRequest

PATH = ScoreRequest("Start at 3. Add 4.", ("3 + 4 = 7\n",))


def remote(**options):
    return load("reward", "remote_prm", **{"model": "toy_prm", "cost_as": "toy_prm", **options})


def test_a_dead_server_is_one_line_naming_the_url_within_the_deadline():
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    prm = remote(url=f"http://127.0.0.1:{port}", retry_timeout_s=1.0, backoff_s=0.1)
    started = time.monotonic()
    with pytest.raises(BackendError) as error:
        prm.score([PATH])
    seconds = time.monotonic() - started
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"reward 'remote_prm': http://127.0.0.1:{port}/pooling still failing after")
    assert "reward.retry_timeout_s=1" in message and "Connection refused" in message
    assert prm.retries >= 2 and seconds < 1.0 + 1.5


def test_paths_without_steps_send_nothing_and_cost_nothing():
    prm = remote(url="http://127.0.0.1:9")  # the discard port: a request would fail
    (result,) = prm.score([ScoreRequest("Start at 3.", ())])
    assert list(result) == [] and (result.computed, result.cached) == (0, 0)


@pytest.mark.parametrize(
    "options, said",
    [
        ({"url": "127.0.0.1:8000"}, "reward.url: '127.0.0.1:8000' is not an http(s) URL"),
        ({"model": "???"}, "reward.model must name the served PRM"),
        ({"cost_as": "???"}, "reward.cost_as must name the served checkpoint's reward config"),
        ({"cost_as": "oracle"}, "reward.cost_as=oracle: needs a transformers PRM config"),
        ({"concurrency": 0}, "reward.concurrency must be a whole number >= 1, got 0"),
        ({"batch_size": 2.5}, "reward.batch_size must be a whole number >= 1, got 2.5"),
        ({"request_timeout_s": 0}, "reward.request_timeout_s and reward.backoff_s must be positive"),
    ],
)
def test_bad_settings_are_one_line_naming_the_key(options, said):
    with pytest.raises(ValueError) as error:
        remote(**options)
    assert said in str(error.value) and "\n" not in str(error.value)
