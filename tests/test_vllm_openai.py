"""policy=openai against a real vLLM OpenAI-compatible server of the toy policy on
127.0.0.1: a REBASE search runs through it; the server is killed mid-run and restarted;
the run retries, completes, and loses nothing (its results equal an uninterrupted run's,
and every sample is in its problem's ledger and tree)."""

import json
import subprocess
import time
from pathlib import Path

import pytest

from infscale.experiments.app.build import load
from infscale.experiments.app.resolvers import package_path
from infscale.search.backends import BackendError, GenerationRequest
from infscale.search.node import file_safe
from tests.conftest import BIN, REPO, read_results
from tests.vllm_helpers import VLLMServer, free_port

pytestmark = pytest.mark.vllm
MODEL = Path(package_path("tasks/toy_checkpoints/toy_small"))
N_PROBLEMS = 12
KILL_AFTER = 60  # completions served before the server is killed


def search(url: str, folder: Path) -> subprocess.Popen:
    command = [
        str(BIN / "infscale-run"),
        "task=toy_arith",
        "policy=openai",
        "policy.model=toy_small",
        f"policy.endpoints=['{url}']",
        f"policy.tokenizer={MODEL}",
        "policy.max_step_tokens=32",
        "policy.max_tokens=128",
        "policy.concurrency=16",
        "policy.backoff_s=0.5",
        "policy.max_backoff_s=4",
        "reward=toy_prm",
        "strategy=rebase",
        "strategy.n=4",
        f"n_problems={N_PROBLEMS}",
        "seed=0",
        "save_trees=true",
        "progress=false",
        f"hydra.run.dir={folder}",
    ]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def comparable(record: dict) -> tuple:
    # prompt_cached differs: the second run finds the server's cache warm
    return (
        record["problem_id"],
        record["answer"],
        record["tokens"]["generated"],
        [c["answer"] for c in record["candidates"]],
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = VLLMServer(MODEL, "toy_small", tmp_path_factory.mktemp("server") / "server.log")
    served.start()
    yield served
    served.kill()


@pytest.mark.slow
def test_search_survives_a_server_kill_and_loses_nothing(server, tmp_path):
    interrupted = search(server.url, tmp_path / "interrupted")
    deadline = time.monotonic() + 600
    while server.served() < KILL_AFTER and interrupted.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert interrupted.poll() is None, "the run ended before the server could be killed mid-run"
    server.kill()
    time.sleep(2)
    server.start()
    output, _ = interrupted.communicate(timeout=900)
    assert interrupted.returncode == 0, output[-2000:]
    assert "retry" in output

    clean = search(server.url, tmp_path / "clean")
    output, _ = clean.communicate(timeout=900)
    assert clean.returncode == 0, output[-2000:]
    assert "retry" not in output

    records, reference = read_results(tmp_path / "interrupted"), read_results(tmp_path / "clean")
    assert len(records) == N_PROBLEMS
    assert [comparable(r) for r in records] == [comparable(r) for r in reference]
    for record in records:
        tree = json.loads((tmp_path / "interrupted" / "trees" / f"{file_safe(record['problem_id'])}.json").read_text())
        nodes = [n for n in tree["nodes"] if n["id"] != 0]
        assert sum(n["tokens"] for n in nodes) == record["tokens"]["generated"] > 0
        assert all(n["text"] for n in nodes)
    assert sum(r["tokens"]["prompt_cached"] for r in records) > 0


def test_concurrent_replicas_usage_accounting_and_failover(server):
    prompt = "85 +17 -31 +11 -21\n85+17=2\n2-31=71\n"
    policy = load(
        "policy",
        "openai",
        endpoints=[server.url, server.url],
        model="toy_small",
        tokenizer=str(MODEL),
        concurrency=8,
        backoff_s=0.05,
        retry_timeout_s=60,
    )
    policy.endpoints[policy.replica(prompt)] = f"http://127.0.0.1:{free_port()}/v1"  # its replica is down
    results = policy.generate(
        [GenerationRequest(prompt, 4, "step", "\n", 32, 1.0, 3), GenerationRequest(prompt, 2, "end", "\n", 64, 1.0, 3)]
    )
    steps, ends = results
    assert all(end.text.startswith(step.text) for step, end in zip(steps.samples, ends.samples))  # seed + j
    assert all(s.finish == "step" and s.text.endswith("\n") and s.text.count("\n") == 1 for s in steps.samples)
    assert all(s.tokens == policy.count_tokens(s.text) for r in results for s in r.samples)
    assert all(r.prompt_computed + r.prompt_cached == policy.count_tokens(prompt) for r in results)
    assert policy.retries > 0  # requests hashed to the dead replica moved on to the live one


def test_bad_endpoints_and_refused_requests(server):
    with pytest.raises(ValueError, match="endpoints"):
        load("policy", "openai", endpoints=[], model="toy_small", tokenizer=str(MODEL))
    with pytest.raises(ValueError, match="not an http"):
        load("policy", "openai", endpoints=["127.0.0.1:8000"], model="toy_small", tokenizer=str(MODEL))
    policy = load("policy", "openai", endpoints=[server.url], model="no_such_model", tokenizer=str(MODEL))
    with pytest.raises(BackendError, match="HTTP 404"):
        policy.generate([GenerationRequest("1 +1\n", 1, "step", "\n", 8, 1.0, 0)])
