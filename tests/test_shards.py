"""Sharding one run (`shard.count`, `shard.index`) and merging its shards in infscale-collect:
the split, the run folder's name and fingerprint, and every refusal of the merge, on small
in-process runs of the simulated world."""

import json
import shutil

import pytest
from hydra import compose, initialize_config_module

from infscale.experiments.analysis import collect
from infscale.experiments.app import resolvers
from infscale.experiments.app.run import config_fingerprint, run
from infscale.experiments.app.shard import Shard, shard_of
from tests.conftest import make_config, read_results

N = 10
SMALL = ("strategy=best_of_n", "strategy.n=2", f"n_problems={N}")


def test_shards_split_the_problems_round_robin_and_together_hold_each_once():
    problems = list(range(N))
    parts = [Shard(3, i).select(problems) for i in range(3)]
    assert parts == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert [Shard(3, i).size(N) for i in range(3)] == [4, 3, 3]
    assert Shard().select(problems) == problems


@pytest.mark.parametrize(
    ("count", "index", "said"),
    [
        (0, 0, "shard.count=0: must be a whole number >= 1"),
        (4, 4, "shard.index=4 with shard.count=4: the index must be 0 .. 3"),
        (4, -1, "shard.index=-1 with shard.count=4"),
        ("two", 0, "shard.count=two"),
    ],
)
def test_a_bad_pair_is_one_line_naming_the_keys(count, index, said):
    with pytest.raises(ValueError, match=said.replace(".", r"\.")) as error:
        shard_of({"shard": {"count": count, "index": index}})
    assert "\n" not in str(error.value)


def _run_dir(*overrides: str) -> str:
    resolvers.register()
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        cfg = compose(
            config_name="config",
            overrides=["task=simulated", "policy=simulated", "reward=simulated", *overrides],
            return_hydra_config=True,
        )
    return str(cfg.hydra.run.dir)


def test_the_shards_of_one_configuration_share_its_run_id_and_name_their_shard():
    plain = _run_dir(*SMALL)
    third = _run_dir(*SMALL, "shard.count=4", "shard.index=2")
    assert third == plain + "-shard2of4"
    assert _run_dir(*SMALL, "shard.count=1") == plain
    assert "shard" not in config_fingerprint(make_config(*SMALL))  # old unsharded folders still resume
    assert config_fingerprint(make_config(*SMALL, "shard.count=4", "shard.index=2"))["shard"] == {
        "count": 4,
        "index": 2,
    }


def _shard(root, index, *extra, count=3):
    folder = root / f"job-shard{index}of{count}"
    return run(make_config(*SMALL, f"shard.count={count}", f"shard.index={index}", *extra), folder), folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("shards")
    whole = run(make_config(*SMALL), base / "whole" / "job")
    shards = base / "shards"
    summaries = [_shard(shards, i)[0] for i in range(3)]
    return base, whole, summaries


def _copy(runs, tmp_path):
    base, _, _ = runs
    root = tmp_path / "sweep"
    shutil.copytree(base / "shards", root)
    return root


def _without_timing(record):
    return {k: v for k, v in record.items() if k != "wall_s"}


def test_each_shard_records_its_shard_and_holds_its_problems(runs):
    base, _, summaries = runs
    assert [s["provenance"]["shard"] for s in summaries] == [{"count": 3, "index": i} for i in range(3)]
    assert [s["n_problems"] for s in summaries] == [4, 3, 3]
    stored = json.loads((base / "shards" / "job-shard1of3" / "run_config.json").read_text())
    assert stored["shard"] == {"count": 3, "index": 1}


def test_collect_merges_the_shards_into_the_unsharded_run(runs):
    base, whole, _ = runs
    merged = collect.collect(base / "shards")
    assert len(merged.rows) == 1 and len(merged.jobs) == 1
    row = merged.rows[0]
    assert row["job"] == "job-shard0-2of3"
    for key in ("accuracy", "accuracy_lo", "accuracy_hi", "flops_total", "flops_paper", "tokens_generated"):
        assert row[key] == pytest.approx(whole[key], rel=1e-12), key
    assert row["n_problems"] == N
    assert [_without_timing(r) for r in merged.jobs[0].records] == [
        _without_timing(r) for r in read_results(base / "whole" / "job")
    ]


def test_a_missing_shard_is_named_and_the_configuration_left_out(runs, tmp_path):
    root = _copy(runs, tmp_path)
    shutil.rmtree(root / "job-shard1of3")
    with pytest.raises(ValueError, match=r"job-shard0-2of3: left out, 3 shards but shard 1 missing;"):
        collect.collect(root)


def test_an_unfinished_shard_says_how_far_it_got_and_its_rerun_completes_the_merge(runs, tmp_path):
    root = _copy(runs, tmp_path)
    partial = root / "job-shard2of3"
    (partial / "summary.json").unlink()
    lines = (partial / "results.jsonl").read_text().splitlines(keepends=True)
    (partial / "results.jsonl").write_text("".join(lines[:1]))
    with pytest.raises(ValueError, match=r"shard 2 unfinished \(1 of 3 problems done in job-shard2of3\)"):
        collect.collect(root)
    _shard(root, 2)
    assert len(collect.collect(root).rows) == 1


def test_a_shard_in_two_folders_is_refused(runs, tmp_path):
    root = _copy(runs, tmp_path)
    shutil.copytree(root / "job-shard1of3", root / "again")
    with pytest.raises(ValueError, match=r"shard 1 of 3 is in 2 folders \(again, job-shard1of3\)"):
        collect.collect(root)


def test_shards_that_ran_different_code_are_refused(runs, tmp_path):
    root = _copy(runs, tmp_path)
    path = root / "job-shard2of3" / "summary.json"
    summary = json.loads(path.read_text())
    summary["provenance"]["git_commit"] = "0123456789abcdef"
    path.write_text(json.dumps(summary))
    with pytest.raises(ValueError, match=r"its shards ran different code \(git commit .*0123456789ab: shards 2\)"):
        collect.collect(root)


def test_shards_of_different_configurations_are_refused(runs, tmp_path):
    root = _copy(runs, tmp_path)
    shutil.rmtree(root / "job-shard1of3")
    _shard(root / "other", 1, "strategy.n=3")
    with pytest.raises(ValueError, match=r"shards of different configurations: .* differ in strategy.n: 2 -> 3"):
        collect.collect(root)


def test_a_second_configuration_still_running_does_not_hold_back_a_finished_one(runs, tmp_path):
    root = _copy(runs, tmp_path)
    _shard(root / "wider", 0, "strategy.n=4")
    result = collect.collect(root)
    assert [r["strategy.n"] for r in result.rows] == [2]
    assert any("shard 1 missing, shard 2 missing" in m for m in result.messages)
