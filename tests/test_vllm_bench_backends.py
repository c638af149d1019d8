"""experiments/bench/backends.py on a few toy problems: every arm generates the same number of
tokens, (c) replays exactly (b)'s sequences, its prefix cache serves every whole block of their
prompts but the one vLLM recomputes where a prompt fills its last block, and (d) and (e) keep
(c)'s cached blocks while prefilling only what finer reuse would."""

import json
import subprocess
import sys

import pytest

from tests.vllm_helpers import REPO

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "backends.json"
    done = subprocess.run(
        [sys.executable, "-m", "infscale.experiments.bench.backends"]
        + ["--problems", "6", "--n", "4", "--repeats", "2", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_every_arm_generates_the_searchs_tokens_and_the_replay_its_sequences(measured):
    result, _ = measured
    for rep in result["repeats"]:
        search, flat = rep["search"], rep["flat"]
        assert search["generated"] > 0
        for arm in ("flat", "replay", "granular", "half_blocks"):
            assert rep[arm]["generated"] == search["generated"], arm
        for arm in ("replay", "granular", "half_blocks"):
            assert rep[arm]["sequences"] == search["sequences"] == search["calls"]["policy_sequences"], arm
        assert flat["sequences"] == 6 * 4
    first, second = result["repeats"]
    assert first["search"]["generated"] == second["search"]["generated"]  # seeded: the same tree twice
    arms = ["search", "flat", "replay", "granular", "half_blocks"]
    assert first["order"] == arms and second["order"] == arms[::-1]


def test_the_replay_is_served_every_whole_prompt_block_but_a_full_last_one(measured):
    result, _ = measured
    for rep in result["repeats"]:
        replay = rep["replay"]
        block, cacheable = replay["block_size"], replay["prompt_cacheable"]
        assert block == 32 and cacheable % block == 0 and 0 < cacheable < replay["prompt_tokens"]
        # vLLM recomputes a prompt's last token, so a prompt of whole blocks is served one block fewer
        assert replay["prompt_cached"] == cacheable - block * replay["prompts_of_whole_blocks"]


def test_finer_reuse_keeps_the_cached_blocks_and_prefills_only_what_it_would_compute(measured):
    result, _ = measured
    for rep in result["repeats"]:
        replay, granular, half = rep["replay"], rep["granular"], rep["half_blocks"]
        assert granular["prompt_cached"] == half["prompt_cached"] == replay["prompt_cached"]
        assert granular["prompt_tokens"] - granular["prompt_cached"] == granular["sequences"]  # one token each
        computed = [arm["prompt_tokens"] - arm["prompt_cached"] for arm in (granular, half, replay)]
        assert computed == sorted(computed) and computed[0] < computed[2]


def test_the_ratios_are_the_arms_times(measured):
    result, stdout = measured
    for rep in result["repeats"]:
        search, flat, replay = rep["search"], rep["flat"], rep["replay"]
        less_reward = search["wall_s"] - search["reward_s"] - search["reward_count_tokens_s"]
        assert rep["c_over_a"] == pytest.approx(replay["wall_s"] / flat["wall_s"])
        assert rep["b_over_c"] == pytest.approx(less_reward / replay["wall_s"])
        assert rep["b_over_a"] == pytest.approx(rep["c_over_a"] * rep["b_over_c"])
        assert rep["d_over_a"] == pytest.approx(rep["granular"]["wall_s"] / flat["wall_s"])
        assert rep["e_over_a"] == pytest.approx(rep["half_blocks"]["wall_s"] / flat["wall_s"])
    assert "(c) (b)'s sequences, one call" in stdout and "medians over 2 repeats" in stdout
