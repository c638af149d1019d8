"""policy=openai against a fake server on 127.0.0.1 that injects 500s, hangs, garbage,
connection resets and bad token counts: every call completes or fails with one line within
its deadline; a connect or read timeout ends a try within request_timeout_s; `concurrency`
bounds the requests in flight and they share as many kept-alive connections; Ctrl-C stops a
call within a second and the next call does not wait for what it abandoned; warnings are
rate-limited."""

import _thread
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from infscale.experiments.app.resolvers import package_path
from infscale.policies.openai import OpenAIPolicy
from infscale.search.backends import BackendError, GenerationRequest
from tests.conftest import REPO, run_cli
from tests.fake_openai import FakeServer, wait_for

TOKENIZER = package_path("tasks/toy_checkpoints/toy_small")


@pytest.fixture
def serve():
    servers = []

    def start(*modes):
        servers.append(FakeServer(*modes))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


_FIXED = dict(name=None, path=None, tokenizer=TOKENIZER, api_key=None, extra_body=None)


def policy(server, **options):
    """A policy for `server` (a FakeServer or a base URL)."""
    settings = dict(concurrency=4, request_timeout_s=30, retry_timeout_s=2.0, backoff_s=0.02, max_backoff_s=0.05)
    settings.update(options)
    return OpenAIPolicy(model="toy_small", endpoints=[getattr(server, "url", server)], **{**_FIXED, **settings})


def request(n=2):
    return GenerationRequest(prompt="1 + 2 =", n=n, until="end", stop="\n", max_tokens=16, temperature=1.0, seed=5)


def timed(fn):
    started = time.monotonic()
    try:
        return fn(), time.monotonic() - started
    except BaseException as error:  # noqa: BLE001
        return error, time.monotonic() - started


def test_transient_500s_and_resets_are_retried_with_rate_limited_warnings(serve, caplog):
    server = serve(*["500"] * 30, *["reset"] * 5, *["truncated"] * 5, "ok")
    backend = policy(server, retry_timeout_s=30)
    with caplog.at_level(logging.WARNING, logger="infscale.policies.openai"):
        (result,), seconds = timed(lambda: backend.generate([request(n=1)]))
    assert [s.tokens for s in result.samples] == [6]  # 7 completion tokens less the EOS that vLLM counts
    assert backend.retries == 40 and server.served == 41
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "injected failure 500" in warnings[0].getMessage()
    assert seconds < 10


@pytest.mark.parametrize(
    "modes, expected",
    [
        (["500"], "still failing after"),
        (["reset"], "still failing after"),
        (
            ["truncated"],
            "reply cut off (peer closed connection without sending complete message body (received 0 bytes, expected 616))",
        ),
        (["hang"], "still failing after"),
        (["garbage"], "not JSON: '<html>proxy says hello</html>'"),
        (["400"], 'refused the request (HTTP 400): {"error": {"message": "injected failure 400"}}'),
        (["negative"], "token counts missing, negative or inconsistent"),
        (["missing"], "no choices[0].text or no usage"),
    ],
)
def test_every_fault_ends_in_one_line_within_the_deadline(serve, modes, expected):
    server = serve(*modes)
    backend = policy(server)  # outside the clock: the first one in a process imports transformers
    error, seconds = timed(lambda: backend.generate([request()]))
    assert isinstance(error, BackendError), error
    message = str(error)
    assert expected in message and "\n" not in message
    assert f"{server.url}/completions" in message and "policy 'toy_small'" in message
    if modes == ["500"]:
        assert 'HTTP 500: {"error": {"message": "injected failure 500"}}' in message
    assert seconds < 2.0 + 1.5  # retry_timeout_s is a total deadline, hangs included (request_timeout_s=30)


def test_a_refused_connection_ends_in_one_line_within_the_deadline():
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = policy(f"http://127.0.0.1:{port}/v1", concurrency=2, retry_timeout_s=1.0)
    error, seconds = timed(lambda: backend.generate([request()]))
    assert isinstance(error, BackendError), error
    message = str(error)
    assert "\n" not in message and f"http://127.0.0.1:{port}/v1/completions still failing after" in message
    assert "Connection refused" in message and backend.retries >= 2
    assert seconds < 1.0 + 1.5


def test_concurrency_bounds_the_requests_in_flight_over_as_many_kept_connections(serve):
    server = serve("slow")  # each reply takes 0.2 s
    backend = policy(server, concurrency=3)
    (result,), seconds = timed(lambda: backend.generate([request(n=12)]))
    assert len(result.samples) == 12 and server.served == 12 and backend.retries == 0
    assert server.most_in_flight == 3 and len(server.connections) == 3
    assert seconds >= 12 / 3 * 0.2


def test_api_key_is_sent_as_a_bearer_token(serve):
    server = serve("ok")
    policy(server, api_key="sk-local").generate([request(n=1)])
    assert server.authorization == "Bearer sk-local"
    policy(server).generate([request(n=1)])
    assert server.authorization is None


@pytest.fixture
def unanswered_port():
    """A loopback port whose listen queue is full: a connection attempt waits for ever."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port, queued = listener.getsockname()[1], []
        while True:
            client = socket.socket()
            client.settimeout(0.2)
            try:
                client.connect(("127.0.0.1", port))
            except TimeoutError:
                client.close()
                break
            queued.append(client)
        yield port
        for client in queued:
            client.close()


@pytest.mark.parametrize("fault, expected", [("hang", "read timeout (0.5 s)"), ("connect", "connect timeout (0.5 s)")])
def test_a_timeout_ends_the_try_in_one_line_within_request_timeout_s(serve, unanswered_port, fault, expected):
    url = serve("hang").url if fault == "hang" else f"http://127.0.0.1:{unanswered_port}/v1"
    backend = policy(url, concurrency=2, request_timeout_s=0.5, retry_timeout_s=0)  # one try
    error, seconds = timed(lambda: backend.generate([request()]))
    assert isinstance(error, BackendError), error
    message = str(error)
    assert "\n" not in message and f"{url}/completions still failing after 1 tries" in message
    assert message.endswith(f"last: {expected}")
    assert 0.5 <= seconds < 0.5 + 1.0


def test_a_call_after_ctrl_c_does_not_wait_for_the_requests_it_abandoned(serve):
    # Python's own Ctrl-C handler, as in a terminal: under a parent that ignores SIGINT (a
    # background job: nohup, `&`) interrupt_main() does nothing and the hanging call runs to its timeout
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _call_after_ctrl_c(serve)
    finally:
        signal.signal(signal.SIGINT, previous)


def _call_after_ctrl_c(serve):
    server = serve("hang")
    backend = policy(server, concurrency=1, retry_timeout_s=30)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in this process, once the request reached the server
        threading.Thread(target=lambda: wait_for(lambda: server.served) and _thread.interrupt_main()).start()
        backend.generate([request(n=1)])
    assert server.in_flight == 1  # the abandoned request still holds its connection
    server.modes = ["ok"]
    (result,), seconds = timed(lambda: backend.generate([request(n=1)]))
    assert [s.tokens for s in result.samples] == [6] and server.served == 2
    assert seconds < 1.0  # not the 30 s the hanging request may hold the only connection for


CTRL_C_PROBE = """
import os, signal, sys, threading, time
from infscale.policies.openai import OpenAIPolicy
from tests.test_server_faults import _FIXED, request
backend = OpenAIPolicy(model="toy_small", endpoints=[sys.argv[1]], concurrency=4, request_timeout_s=30,
                       retry_timeout_s=30, backoff_s=0.02, max_backoff_s=0.05, **_FIXED)
# Python's own Ctrl-C handler, as in a terminal: a parent that ignores SIGINT (a shell's
# background job does) hands that down, and a SIGINT would then be ignored before our code saw it
signal.signal(signal.SIGINT, signal.default_int_handler)
started = time.monotonic()
try:  # the Ctrl-C is armed inside the try: on a loaded machine it must not land before it
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    backend.generate([request(n=4)])
    print("returned", time.monotonic() - started)
except KeyboardInterrupt:
    print("interrupted", time.monotonic() - started)
"""


@pytest.mark.slow
def test_ctrl_c_stops_a_hanging_call_within_a_second(serve):
    # A real SIGINT in a fresh interpreter, as a user's Ctrl-C (no handler left by another test).
    # retry_timeout_s=30: a call that ignored Ctrl-C would hang for 30 s (600 s by default).
    server = serve("hang")
    probe = subprocess.run(
        [sys.executable, "-c", CTRL_C_PROBE, server.url], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert len(probe.stdout.split()) == 2, probe.stderr
    outcome, seconds = probe.stdout.split()
    assert outcome == "interrupted", probe.stderr
    assert float(seconds) < 0.5 + 1.0


def test_model_is_required_with_one_line():
    with pytest.raises(ValueError, match="policy.model must name the served model"):
        OpenAIPolicy(
            model="???",
            endpoints=["http://127.0.0.1:9/v1"],
            concurrency=1,
            request_timeout_s=1.0,
            retry_timeout_s=1.0,
            backoff_s=0.1,
            max_backoff_s=1.0,
            **_FIXED,
        )


OPENAI = [
    "task=toy_arith",
    "policy=openai",
    f"policy.tokenizer={TOKENIZER}",
    "reward=none",
    "strategy=best_of_n_majority",
]


@pytest.mark.slow
def test_cli_without_model_says_which_key_in_one_line(tmp_path):
    done = run_cli(*OPENAI, "n_problems=1", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "infscale-run: error: policy.model must be set" in done.stderr


@pytest.mark.slow
def test_cli_against_a_failing_server_fails_in_one_line_and_logs_why(serve, tmp_path):
    server = serve("500")
    args = [*OPENAI, "policy.model=toy_small", f"policy.endpoints=[{server.url}]", "policy.retry_timeout_s=1"]
    done = run_cli(*args, "policy.backoff_s=0.05", "strategy.n=2", "n_problems=2", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "injected failure 500" in errors[0] and server.url in errors[0]
    assert "injected failure 500" in (tmp_path / "run.log").read_text()


@pytest.mark.slow
def test_cli_names_the_run_folder_and_records_after_the_model(serve, tmp_path):
    """policy.name is left to its default (the model name's last part): the default run folder,
    the records and the stored configuration all carry it, never `None`."""
    server = serve("500", "ok")
    args = [*OPENAI, "policy.model=org/toy_small", f"policy.endpoints=[{server.url}]", "policy.backoff_s=0.05"]
    done = run_cli(*args, "strategy.n=2", "n_problems=2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "outputs" / "toy_arith").iterdir()
    assert folder.name.startswith("toy_small-none-best_of_n_majority-n2-"), folder.name
    records = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    assert [r["policy"] for r in records] == ["toy_small", "toy_small"]
    assert json.loads((folder / "run_config.json").read_text())["policy"]["name"] == "toy_small"
    assert json.loads((folder / "summary.json").read_text())["provenance"]["config"]["policy"]["name"] == "toy_small"


@pytest.mark.slow
def test_cli_ctrl_c_against_a_hanging_server_exits_130_within_a_second(serve, tmp_path):
    import os
    import subprocess

    from tests.conftest import BIN, simulated_world

    server = serve("hang")
    args = [*OPENAI, "policy.model=toy_small", f"policy.endpoints=[{server.url}]", "n_problems=2", "progress=false"]
    command = [str(BIN / "infscale-run"), *simulated_world(tuple(args)), *args, f"hydra.run.dir={tmp_path}"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if "to run) x strategy.n=" in line:
            break
    assert server.served == 0 or process.poll() is None
    assert wait_for(lambda: server.served > 0, timeout=60)
    os.kill(process.pid, signal.SIGINT)
    sent = time.monotonic()
    rest = process.stderr.read()
    process.wait(timeout=30)
    assert process.returncode == 130 and time.monotonic() - sent < 1.5
    assert rest.strip().splitlines() == [
        f"infscale-run: interrupted by SIGINT: 0 of 2 problems are saved in {tmp_path}; rerun the same command to resume"
    ]
