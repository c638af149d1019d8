"""The allocation study compares allocators only at equal spent FLOPs
(experiments/studies/equal_spend.py): pairs further apart than the tolerance are left out,
every row says both spends and the share of its pool each used, and its interval is paired."""

from __future__ import annotations

import json

import pytest

from infscale.experiments.stats import paired_difference
from infscale.experiments.studies.allocation_study import compare, unspent
from infscale.experiments.studies.equal_spend import at_equal_spend, describe, spend


def _point(name, kind, spent, pool, correct, selector="weighted"):
    return {
        "name": name,
        "kind": kind,
        "selector": selector,
        "spent": spent,
        "pool": pool,
        "pool_used": None if pool is None else spent / pool,
        "correct": correct,
        "accuracy": sum(correct) / len(correct),
        "flops_mean": spent / len(correct),
        "n": 4,
    }


POINTS = [
    _point("uniform-a", "uniform", 100.0, 105.0, [1, 0, 1, 1, 0, 1]),
    _point("probe-a", "probe_then_allocate", 95.0, 190.0, [1, 1, 1, 1, 0, 1]),  # 5% apart: compared
    _point("probe-b", "probe_then_allocate", 50.0, 200.0, [1, 1, 0, 1, 1, 1]),  # half of uniform-a's
    _point("uniform-b", "uniform", 52.0, 52.0, [0, 1, 0, 1, 1, 1]),  # 3.8% above probe-b
    _point("uniform-c", "uniform", 90.0, 100.0, [1, 1, 1, 1, 1, 1]),  # 5.3% below probe-a
    _point("sweep-m", "from_sweep", 100.0, 100.0, [1, 1, 1, 1, 1, 1], selector="majority"),  # no partner
    _point("fixed-weighted-n4", "fixed", 60.0, None, [1, 1, 1, 1, 1, 1]),  # not an allocator
]


def test_allocators_are_compared_only_where_their_spends_are_within_the_tolerance():
    rows = at_equal_spend(POINTS, tolerance=0.05)
    assert [(r["a"], r["b"]) for r in rows] == [("probe-b", "uniform-b"), ("probe-a", "uniform-a")]
    by_name = {p["name"]: p for p in POINTS}
    for row in rows:
        a, b = by_name[row["a"]], by_name[row["b"]]
        gap = abs(a["spent"] - b["spent"]) / max(a["spent"], b["spent"])
        assert row["spend_gap"] == pytest.approx(gap) and gap <= 0.05
        assert (row["spent_a"], row["spent_b"]) == (a["spent"], b["spent"])
        assert (row["pool_used_a"], row["pool_used_b"]) == (a["spent"] / a["pool"], b["spent"] / b["pool"])
        assert (row["gain"], row["gain_lo"], row["gain_hi"]) == paired_difference(a["correct"], b["correct"])
    assert rows[1]["gain"] == pytest.approx(1 / 6) and rows[1]["pool_used_a"] == 0.5
    line = "probe-a 0.833 at 95 FLOPs (50% of its pool) vs uniform-a 0.667 at 100 FLOPs (95% of its pool): +0.167"
    assert describe(rows[1]).startswith(line)
    # a tighter tolerance drops the pair 5% apart; a looser one adds uniform-c, 5.3% from probe-a
    assert [(r["a"], r["b"]) for r in at_equal_spend(POINTS, tolerance=0.04)] == [("probe-b", "uniform-b")]
    assert [r["b"] for r in at_equal_spend(POINTS, tolerance=0.06) if r["a"] == "probe-a"] == ["uniform-c", "uniform-a"]
    with pytest.raises(ValueError, match=r"^the spend tolerance must lie in \[0, 1\), got 1$"):
        at_equal_spend(POINTS, tolerance=1)


def test_the_study_says_what_each_run_spent_and_which_runs_need_a_partner_at_equal_spend(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"pool": {"total_flops": 400.0}}))
    assert spend(tmp_path, [100.0, 50.0, 150.0]) == {"spent": 300.0, "pool": 400.0, "pool_used": 0.75}
    (tmp_path / "summary.json").write_text(json.dumps({"accuracy": 0.5}))  # a fixed run: no pool
    assert spend(tmp_path, [1.0]) == {"spent": 1.0, "pool": None, "pool_used": None}
    # the fixed front's table carries each allocation run's spend and its share of the pool
    (row,) = [r for r in compare(POINTS)["at_same_flops"] if r["allocation"] == "probe-a"]
    assert (row["spent"], row["pool_used"]) == (95.0, 0.5)
    # probe-a used half of its pool: it needs a uniform partner at its spend; uniform and
    # runs that spent at least 95% do not
    assert [p["name"] for p in POINTS if unspent(p, 0.05)] == ["probe-a", "probe-b"]
