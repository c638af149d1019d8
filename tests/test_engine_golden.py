"""Fixed simulated runs whose records must not change when the engine is restructured.

The digests were recorded on main at 9146573, before the engine's admission and round loop
moved behind the `Scheduler` protocol (search/scheduler.py): the same records, byte for byte,
less `wall_s`. They cover admission in waves (`engine.max_concurrent` below the problem count),
packing into small calls, a per-problem token cap and FLOP cap cutting operations, and a
data-set pool whose reservations depend on the order operations are issued in. A change that
alters results on purpose records new digests here and says why in its commit.

Each entry holds two digests. The first is today's records. The second is the records as
recorded at 9146573, which `compute.reuse=none` still gives byte for byte less the observed
fields added with the reuse model (`tokens.recomputed`, `flops.executed`): before it, the
simulated policy's whole prompts were charged per request, as `none` charges them now. The
default `prefix` charges a node's new prompt tokens only, so its digests changed then.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from infscale.experiments.app.run import run
from tests.conftest import read_results
from tests.engine_helpers import simulated_engine

GOLDEN = {
    "rebase": (
        (
            "strategy=rebase",
            "strategy.n=8",
            "n_problems=30",
            "seed=3",
            "engine.max_concurrent=7",
            "engine.max_batch=32",
        ),
        "91f20c5aa60add61e93ddeb9fedd7c795d4a8a3489d12eec2ed54194832f808e",
        "42a76ca803ca509798e818704a150aa6440a3cbf96d4ccd2fc5b1a11641c41b8",
    ),
    "beam_token_cap": (
        ("strategy=beam", "strategy.n=8", "n_problems=12", "seed=5", "engine.max_batch=16", "budget.max_tokens=2000"),
        "4b151cec3c5968e204d7e5d75927c07c01558d94e9ab47c18cd08e027616944f",
        "15d05567dd0288b9bd43728546328cd97811e32d0501530990b25b90bb2388ec",
    ),
    "mcts_flop_cap": (
        ("strategy=mcts", "strategy.n=6", "n_problems=10", "budget.max_flops=3e12", "engine.max_concurrent=3"),
        "03c85998b02e4e1484c4d74e94dc2615a712e5df8008ca6f5c5d0a69afa04ba6",
        "a5b18ad028a00afa964a71731452700a3c200906b589e337a654b5ded6df6ddb",
    ),
    "pool": (
        (
            "strategy=best_of_n",
            "task.n=40",
            "n_problems=40",
            "allocator=probe_then_allocate",
            "budget.total_flops=3e15",
            "engine.max_batch=24",
        ),
        "9aaa0982b2b86adf9301b4fdf0088aee2f9cc61f1f37f4924400fe1c626d4006",
        "83476254631b03d39a87d4f147a57829211d07f4cf33435d1bd73f2fd7ec1431",
    ),
}


def digest(records: list[dict]) -> str:
    lines = (json.dumps({k: v for k, v in r.items() if k != "wall_s"}, sort_keys=True) for r in records)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@pytest.mark.parametrize("scheduler", ["lockstep", "continuous"])
@pytest.mark.parametrize("name", GOLDEN)
def test_records_match_the_digest_recorded_before_the_scheduler_seam(name, scheduler, config, tmp_path):
    # continuous too: the same records, whatever the order calls come back in (with the
    # pool, where issue order is part of the result, it steps in rounds)
    overrides, expected, _ = GOLDEN[name]
    run(config(*overrides, f"engine.scheduler={scheduler}"), tmp_path)
    assert digest(read_results(tmp_path)) == expected


def without_observed(record: dict) -> dict:
    tokens = {k: v for k, v in record["tokens"].items() if k != "recomputed"}
    return {**record, "tokens": tokens, "flops": {k: v for k, v in record["flops"].items() if k != "executed"}}


@pytest.mark.parametrize("name", ["rebase", "pool"])
def test_reuse_none_gives_the_records_charged_before_the_reuse_model(name, config, tmp_path):
    overrides, _, before = GOLDEN[name]
    run(config(*overrides, "compute.reuse=none"), tmp_path)
    assert digest([without_observed(r) for r in read_results(tmp_path)]) == before


def test_the_digest_sees_one_changed_number_and_ignores_wall_time(config, tmp_path):
    run(config("strategy=rebase", "strategy.n=4", "n_problems=3"), tmp_path)
    records = read_results(tmp_path)
    changed = json.loads(json.dumps(records))
    changed[-1]["candidates"][0]["tokens"] += 1
    assert digest(changed) != digest(records)
    assert digest([{**r, "wall_s": r["wall_s"] + 1.0} for r in records]) == digest(records)


def test_an_unknown_scheduler_is_one_line_naming_the_key_and_the_known_ones(config, tmp_path):
    message = "unknown engine.scheduler 'rounds' (known: lockstep, continuous)"
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        run(config("engine.scheduler=rounds", "n_problems=2"), tmp_path)
    with pytest.raises(ValueError, match="^unknown engine.scheduler 'Lockstep' "):
        simulated_engine(scheduler="Lockstep")
