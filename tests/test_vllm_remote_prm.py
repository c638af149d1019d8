"""reward=remote_prm against a real `vllm serve` of the toy PRM (vLLM's CPU build) on
127.0.0.1: its step scores equal reward=vllm_prm's, run in process, to 1e-4 on right and wrong
solutions sent as several concurrent requests; a path's new steps only (`known`) are the tail
of its whole scores; the ledger charges the named model (`cost_as=vllm_toy_prm`) exactly as
reward=oracle with the same `cost_as` charges it."""

import math
from pathlib import Path

import pytest

from infscale.experiments.app.build import load
from infscale.experiments.app.resolvers import package_path
from infscale.experiments.app.run import run
from infscale.search.backends import ScoreRequest
from tests.conftest import make_config, read_results
from tests.vllm_helpers import CPU_ENGINE, PRM_SERVE_ARGS, VLLMServer, release, toy_arith_paths

pytestmark = [pytest.mark.vllm, pytest.mark.slow]  # a server start and a toy search: minutes
PRM = package_path("tasks/toy_checkpoints/toy_prm")
TOKENIZER = package_path("tasks/toy_checkpoints/tokenizer")
TOLERANCE = 1e-4
BATCH = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    served = VLLMServer(Path(PRM), "toy_prm", log, args=(*PRM_SERVE_ARGS, "--tokenizer", TOKENIZER))
    served.start()
    yield served
    served.kill()


def remote(server, **options):
    url = server.url.removesuffix("/v1")
    return load("reward", "remote_prm", url=url, model="toy_prm", cost_as="vllm_toy_prm", **options)


def test_served_scores_equal_the_in_process_vllm_prm(server):
    requests = toy_arith_paths()
    prm = remote(server, batch_size=BATCH, concurrency=3)
    got = prm.score(requests)
    engine = load("reward", "vllm_prm", path=PRM, adapter="toy", tokenizer=TOKENIZER, **CPU_ENGINE, incremental=False)
    try:
        expected = engine.score(requests)
    finally:
        release(engine)
    assert [len(s) for s in got] == [len(r.steps) for r in requests]
    difference = max(abs(x - y) for xs, ys in zip(got, expected) for x, y in zip(xs, ys))
    print(f"max |remote - in-process| over {sum(len(s) for s in got)} step scores: {difference:.3g}")
    assert difference < TOLERANCE
    assert len({round(x, 3) for s in got for x in s}) > 20  # distinct scores: positions really differ
    log = server.log.read_text(errors="replace")
    assert log.count('"POST /pooling HTTP/1.1" 200') == math.ceil(len(requests) / BATCH)
    tails = prm.score([ScoreRequest(r.prompt, r.steps, len(r.steps) - 1) for r in requests])
    # The server batches concurrent posts as they arrive, so a tail may share a forward pass
    # with other rows than its full path did: equal to float32 rounding, not bit for bit.
    assert [len(t) for t in tails] == [1] * len(requests)
    assert max(abs(t[0] - s[-1]) for t, s in zip(tails, got)) < TOLERANCE


def test_the_ledger_charges_the_named_model(server, tmp_path):
    """Best-of-N samples without reading scores, so both runs draw the same solutions: the
    served PRM's reward FLOPs and tokens are the ones reward=oracle charges as vllm_toy_prm."""
    world = ("task=toy_arith", "policy=toy_small", "strategy=best_of_n", "strategy.n=4", "n_problems=4")
    url = server.url.removesuffix("/v1")
    served = ("reward=remote_prm", f"reward.url={url}", "reward.model=toy_prm", "reward.cost_as=vllm_toy_prm")
    run(make_config(*world, *served), tmp_path / "remote")
    run(make_config(*world, "reward=oracle", "reward.cost_as=vllm_toy_prm"), tmp_path / "oracle")
    charged = [(r["tokens"], r["flops"]) for r in read_results(tmp_path / "remote")]
    assert charged == [(r["tokens"], r["flops"]) for r in read_results(tmp_path / "oracle")]
    assert all(flops["reward"] > 0 and tokens["reward"] > 0 for tokens, flops in charged)
