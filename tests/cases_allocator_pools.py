"""Allocators against token pools, pools that run out mid-wave, exact boundaries and their
error texts, each case worked out by hand (written from the mutants that survived
`make mutation`; collected through tests/test_allocators.py, which the mutation selection lists)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from infscale.search.allocators.cost import SampleCost
from infscale.search.allocators.difficulty import estimate, flip_probability
from infscale.search.allocators.from_sweep import FromSweep
from infscale.search.allocators.uniform import Uniform
from infscale.search.allocators.waves import WaveRunner
from infscale.tasks.base import TextTask
from tests.allocator_helpers import PlanRunner, probe_allocator, probed, write_sweep


class PoolRunner(PlanRunner):
    """The fake runner with a token pool too: a solution is expected to cost `each` FLOPs, or
    10 tokens (12 for p1) where the pool counts tokens only, and `room` is in that unit."""

    def __init__(self, flops_left: float | None, tokens_left: int | None, each: float = 50.0, **kwargs):
        super().__init__(flops_left, **kwargs)
        self.tokens_left, self.each = tokens_left, each

    def left(self):
        return self.flops_left, self.tokens_left

    def room(self):
        if self.flops_left is None and self.tokens_left is not None:
            return float(self.tokens_left)
        return super().room()

    def worst_flops(self, state, n):
        return self.each * n

    def cost(self, state):
        return SampleCost(0.0, self.each, {"p1": 12}.get(state.problem.id, 10))

    def measured(self, state):
        if self.flops_left is None and self.tokens_left is not None:
            return float(self.cost(state).tokens)
        return self.each


def _sweep(tmp_path, rows, selector="majority"):
    return str(write_sweep(tmp_path / "sweep", rows, selector))


# the sweep's own FLOPs do not matter: the plan costs a width at this run's measured cost
_CHEAP = [
    {"difficulty": "easy", "strategy.n": 2, "accuracy": 0.9, "flops_total": 10, "n_problems": 10},
    {"difficulty": "easy", "strategy.n": 4, "accuracy": 0.95, "flops_total": 20, "n_problems": 10},
    {"difficulty": "hard", "strategy.n": 2, "accuracy": 0.3, "flops_total": 10, "n_problems": 10},
    {"difficulty": "hard", "strategy.n": 4, "accuracy": 0.5, "flops_total": 20, "n_problems": 10},
    {"difficulty": "hard", "strategy.n": 8, "accuracy": 0.7, "flops_total": 40, "n_problems": 10},
]


@pytest.mark.parametrize(
    "flops_left, tokens_left, targets, grants",
    [
        # p0 closed first; p1 easy, p2 hard, both at 2. A solution costs 50 FLOPs, or 12 tokens
        # (p1) and 10 (p2). By gain per FLOP: hard 2->4 (+100), hard 4->8 (+200), easy 2->4 (+100)
        (450.0, None, [4, 8], {"p1": 2, "p2": 3}),  # all three; then at most step=3 more a wave
        (349.0, None, [2, 8], {"p2": 3}),  # easy 2->4 does not fit after 300
        (250.0, None, [4, 4], {"p1": 2, "p2": 2}),  # hard 4->8 does not fit after 100; easy does
        (None, 64, [2, 8], {"p2": 3}),  # tokens: hard 2->4 (20), 4->8 (40); easy's 24 > 4 left
        (None, 54, [4, 4], {"p1": 2, "p2": 2}),  # hard 4->8's 40 > 34 left; easy's 24 fits
    ],
)
def test_from_sweep_grants_stop_where_the_pool_stops_paying(tmp_path, flops_left, tokens_left, targets, grants):
    allocator = FromSweep(sweep=_sweep(tmp_path, _CHEAP), probe_n=2, step=3)
    states = probed([["A", "A"], ["A", "B"], ["C", "D"]])
    states[0].close("closed before")  # a closed problem before open ones is passed over, not the end
    assert allocator.grants(PoolRunner(flops_left, tokens_left), states, 1) == grants
    assert [s.estimate["target"] for s in states[1:]] == targets
    assert states[1].open and states[2].open  # the wave granted something: both still open
    # a problem one solution short of its target wants exactly one
    node = states[2].tree.add_child(states[2].tree.root, text="A", tokens=1, context=0, finish="end", answer="A")
    node.terminal = True
    states[1].estimate["target"], states[2].estimate["target"] = 2, 4
    assert allocator.grants(PoolRunner(None, None), states, 2) == {"p2": 1}


def test_from_sweep_raises_the_plan_again_once_every_problem_has_its_width(tmp_path):
    """Every problem at its target and pool left: the plan is raised with what is left."""
    allocator = FromSweep(sweep=_sweep(tmp_path, _CHEAP), probe_n=2, step=3)
    states = probed([["A", "B"], ["C", "D"]])  # p0 easy, p1 hard
    assert allocator.grants(PoolRunner(100.0, None), states, 1) == {"p1": 2}  # hard 2->4 fits, nothing else
    for _ in range(2):
        node = states[1].tree.add_child(states[1].tree.root, text="A", tokens=1, context=0, finish="end", answer="A")
        node.terminal = True
    assert allocator.grants(PoolRunner(300.0, None), states, 2) == {"p1": 3, "p0": 2}  # hard 4->8, easy 2->4
    assert [s.estimate["target"] for s in states] == [4, 8]
    assert allocator.grants(PoolRunner(49.0, None), states, 3) == {}
    assert [s.reason for s in states] == ["bin easy: n=2 (pool)", "bin hard: n=4 (pool)"]


def test_from_sweep_reads_unanimity_from_votes_not_scores_and_splits_bins_to_the_last_problem(tmp_path):
    """Three bins of 10 problems each and 4 problems: round(4/3) = 1 to each of the first two,
    the last bin takes the rest (2), whatever the rounding. With majority voting a problem's
    agreement is its vote count, even when its solutions carry scores."""
    rows = [dict(r, difficulty=d) for d in ("a", "b") for r in _CHEAP[:2]] + [
        dict(r, difficulty="c") for r in _CHEAP[2:]
    ]
    for row in rows:
        row["accuracy"] -= {"a": 0.0, "b": 0.1, "c": 0.0}[row["difficulty"]]
    allocator = FromSweep(sweep=_sweep(tmp_path, rows), probe_n=2, step=3)
    states = probed([["A", "A"], ["A", "B", "B"], ["C", "C"], ["D", "E"]])
    for state, scores in zip(states, ([0.5, 0.5], [0.98, 0.01, 0.01], [0.5, 0.5], [0.5, 0.5])):
        for node, score in zip(state.samples, scores):
            node.step_scores = [score]
    allocator.grants(PoolRunner(None, None), states, 1)
    assert [s.estimate["bin"] for s in states] == ["a", "c", "b", "c"]
    assert states[1].estimate == {
        "samples": 3,
        "agreement": 0.666667,  # 2 votes of 3 (weighted by score it would be 0.98)
        "flip": round(flip_probability(2.0, 1.0, 3, 1.0), 6),  # prior 1
        "difficulty": 0.333333,
        "mean_score": None,
        "bin": "c",
        "target": 8,
    }
    assert flip_probability(2.0, 1.0, 3, 1.0) != flip_probability(2.0, 1.0, 3, 2.0)


def test_from_sweep_ranks_equally_hard_problems_by_mean_score(tmp_path):
    """Weighted voting: p0 (answers scored 0) and p1 (no answers, scored 0.5) both have
    agreement 0; the higher mean score ranks easier, a mean of 0 as 0."""
    rows = [dict(r, **{"strategy.selector": "weighted"}) for r in _CHEAP]
    allocator = FromSweep(sweep=_sweep(tmp_path, rows, selector="weighted"), probe_n=2, step=3)
    states = probed([["A", "A"], [None, None]])
    for state, score in zip(states, (0.0, 0.5)):
        for node in state.samples:
            node.step_scores = [score]
    allocator.grants(PoolRunner(None, None, selector="weighted"), states, 1)
    assert [(s.estimate["difficulty"], s.estimate["mean_score"], s.estimate["bin"]) for s in states] == [
        (1.0, 0.0, "hard"),
        (1.0, 0.5, "easy"),
    ]


_ORDERED = [
    {"difficulty": "a_worst", "strategy.n": 2, "accuracy": 0.1, "flops_total": 10, "n_problems": 10},
    {"difficulty": "a_worst", "strategy.n": 4, "accuracy": 0.11, "flops_total": 20, "n_problems": 10},
    {"difficulty": "z_easy", "strategy.n": 2, "accuracy": 0.9, "flops_total": 10, "n_problems": 10},
    {"difficulty": "m_mid", "strategy.n": 2, "accuracy": 0.6, "flops_total": 10, "n_problems": 10},
    {"difficulty": "m_mid", "strategy.n": 4, "accuracy": 0.6, "flops_total": 10, "n_problems": 10},
    {"difficulty": "b_hard", "strategy.n": 2, "accuracy": 0.3, "flops_total": 10, "n_problems": 10},
    {"difficulty": "b_hard", "strategy.n": 4, "accuracy": 0.5, "flops_total": 20, "n_problems": 10},
]


@pytest.mark.parametrize(
    "flops_left, hard_width, worst_width",
    [
        # 5 FLOPs a solution: every 2->4 raise of one problem costs 10. Per FLOP b_hard gains
        # 0.2 / 10, a_worst 0.01 / 10; m_mid gains nothing, z_easy has no larger width
        (9.0, 2, 2),  # neither fits
        (10.0, 4, 2),  # one fits: the better ratio
        (20.0, 4, 4),
    ],
)
def test_from_sweep_plans_in_difficulty_order_and_by_gain_per_flop(tmp_path, flops_left, hard_width, worst_width):
    """Bins named and listed against their order (`z_easy` is the easiest, `a_worst` comes
    first in the table), the easiest with no larger width, a step that gains nothing: the
    plan goes by accuracy at the probe's width and by gain per FLOP."""
    allocator = FromSweep(sweep=_sweep(tmp_path, _ORDERED), probe_n=2, step=3)
    # easiest first: unanimous p0, then p1 (2 of 3), then p2 and p3 split evenly; one bin each
    states = probed([["A", "A"], ["A", "A", "B"], ["A", "B"], ["C", "D"]], spent=0.0)
    allocator.grants(PoolRunner(flops_left, None, each=5.0), states, 1)
    assert [(s.estimate["bin"], s.estimate["target"]) for s in states] == [
        ("z_easy", 2),
        ("m_mid", 2),
        ("b_hard", hard_width),
        ("a_worst", worst_width),
    ]


def test_from_sweep_tables_skip_what_they_must_and_size_bins_by_their_largest_row(tmp_path):
    rows = [
        {"difficulty": "easy", "strategy.n": 2, "accuracy": 0.9, "flops_total": None},  # no FLOPs: skipped
        {"difficulty": "easy", "strategy.n": 1, "accuracy": 0.5, "flops_total": 5},  # below the probe: skipped
        {"difficulty": "easy", "strategy.n": 2, "accuracy": 0.9, "flops_total": 10, "n_problems": 30},
        {"difficulty": "easy", "strategy.n": 4, "accuracy": 0.95, "flops_total": 20, "n_problems": 7},
        {"difficulty": "hard", "strategy.n": 4, "accuracy": 0.4, "flops_total": 20, "allocator.name": "none"},
    ]
    table, sizes = FromSweep(sweep=_sweep(tmp_path, rows), probe_n=2, step=3).table("majority")
    assert table == {"easy": {2: (0.9, 10.0), 4: (0.95, 20.0)}, "hard": {4: (0.4, 20.0)}}
    assert sizes == {"easy": 30, "hard": 1}  # the largest count of a bin's rows; none given: 1


def test_from_sweep_bad_settings_and_tables_are_one_line_errors(tmp_path):
    folder = _sweep(tmp_path, _CHEAP)
    for key, message in [("probe_n", "allocator.probe_n must be"), ("step", "allocator.step must be")]:
        with pytest.raises(ValueError, match=f"^{re.escape(message)} a positive integer, got 0$"):
            FromSweep(sweep=folder, **{"probe_n": 2, "step": 3, key: 0})
    for text, problem in [("{", "is not valid JSON"), ('{"rows": []}', "is not a table of rows")]:
        (tmp_path / "sweep" / "levels.json").write_text(text)
        with pytest.raises(ValueError, match=f"^{re.escape(f'allocator.sweep={folder}: levels.json {problem}')}$"):
            FromSweep(sweep=folder, probe_n=2, step=3)


def _probe_allocator(**changes):
    return probe_allocator(**{"min_flip": 0.0, "hopeless_agreement": 0.25, **changes})


@pytest.mark.parametrize(
    "tokens_left, grants",
    [
        # equal gains; by gain per expected token p0, p2 (10 a solution), then p1 (12); 2 more
        # each: 20, 20, 24 tokens
        (64, {"p0": 2, "p1": 2, "p2": 2}),
        (63, {"p0": 2, "p2": 2}),  # 23 left for p1's 24
        (39, {"p0": 2}),  # p2's 20 does not fit in the 19 left after p0, nor p1's 24
    ],
)
def test_probe_then_allocate_grants_within_a_token_pool(tokens_left, grants):
    states = probed([["A", "B"], ["C", "D"], ["E", "F"]])
    assert _probe_allocator().grants(PoolRunner(None, tokens_left), states, 1) == grants


def test_probe_then_allocate_probes_only_open_problems_with_nothing_drawn_and_closes_at_its_boundaries():
    states = probed([[], [], ["A"]])
    states[1].close("closed")
    assert _probe_allocator().grants(PlanRunner(None), states, 0) == {"p0": 2}
    states = probed([["A", "B", "C", "D"], ["A"] * 5 + ["B"]])
    flip = estimate(states[1].samples, "majority", "last", TextTask(), 1.0)["flip"]
    # hopeless at exactly the agreement limit (1/4 <= 0.25); a flip exactly at min_flip stays open
    _probe_allocator(min_flip=flip).grants(PlanRunner(1e9), states, 1)
    assert [(s.open, s.reason) for s in states] == [(False, "hopeless"), (True, "")]


def test_difficulty_estimates_are_rounded_to_six_places_and_padded_with_empty_groups():
    states = probed([["A", "B", "B"], ["A", "A", "A"], [None, None]])
    for node, score in zip(states[0].samples, (0.2, 0.3, 0.5)):
        node.step_scores = [score]
    split = estimate(states[0].samples, "majority", "last", TextTask(), 1.0)
    assert (split["agreement"], split["difficulty"]) == (0.666667, 0.333333)
    weighted = estimate(states[0].samples, "weighted", "last", TextTask(), 1.0)
    assert weighted["mean_score"] == 0.333333 and weighted["agreement"] == 0.8  # (0.3 + 0.5) x 3 / 1.0 / 3
    unanimous = estimate(states[1].samples, "majority", "last", TextTask(), 1.0)
    assert unanimous["flip"] == round(flip_probability(3.0, 0.0, 3, 1.0), 6)  # no second group: 0 votes
    unanswered = estimate(states[2].samples, "majority", "last", TextTask(), 1.0)
    assert unanswered["flip"] == round(flip_probability(0.0, 0.0, 2, 1.0), 6) and unanswered["agreement"] == 0.0


def test_uniform_reads_each_problems_own_token_cost():
    states = probed([[], [], []])  # 10 + 12 + 10 = 32 tokens a solution each: 2 fit in 64
    assert Uniform(max_n=8).level(PoolRunner(None, 64), states) == 2
    assert Uniform(max_n=8).level(PoolRunner(None, 63), states) == 1


def test_the_wave_runners_costs_are_per_problem_and_its_flop_counts_required_only_by_a_flop_pool():
    states = probed([[], []])
    known = {"p0": SampleCost(1.0, 2.0, 3), "p1": SampleCost(4.0, 5.0, 6)}
    assert WaveRunner.cost(SimpleNamespace(_costs=known), states[1]) is known["p1"]
    uncounted = SimpleNamespace(
        cost=lambda state: SampleCost(None, None, 10),
        engine=SimpleNamespace(reuse="prefix"),
        pool=SimpleNamespace(total_flops=None),
    )
    assert WaveRunner.worst_flops(uncounted, states[0], 2) == 0.0
    assert SampleCost(None, None, 10).flops(0, False) == 0.0  # nothing asked: nothing, counts or not
    uncounted.pool.total_flops = 1e9
    with pytest.raises(ValueError, match="^budget.total_flops needs FLOP counts, and this backend reports none$"):
        WaveRunner.worst_flops(uncounted, states[0], 2)
    with pytest.raises(ValueError, match="^an allocator needs a data-set pool: set budget.total_flops or budget"):
        WaveRunner(SimpleNamespace(pool=None), None, None)


def test_measured_cost_falls_back_to_the_worst_case_while_nothing_was_spent():
    state = probed([["A", "B"]], spent=0.0)[0]
    state.ledger.samples = 2  # two solutions, no FLOPs or tokens counted (a free backend)
    runner = PoolRunner(None, None)
    runner.pool, runner.typical = SimpleNamespace(total_flops=1e9), None
    runner.spent = lambda state: WaveRunner.spent(runner, state)
    runner.expected = lambda state, n: WaveRunner.expected(runner, state, n)
    assert WaveRunner.measured(runner, state) == 50.0
    runner.pool.total_flops = None
    assert WaveRunner.measured(runner, state) == 10.0


def test_a_reward_model_without_a_model_spec_leaves_the_scored_worst_case_uncounted():
    from infscale.experiments.app.build import load
    from infscale.search.allocators.cost import worst_case
    from infscale.tasks.base import Problem
    from tests.engine_helpers import MODEL

    policy = load("policy", "simulated", model=MODEL)
    problem = Problem(id="p", prompt="1 + 2 =", reference="3")
    engine = SimpleNamespace(policy=policy, sampling=SimpleNamespace(max_tokens=64), reward=SimpleNamespace(spec=None))
    cost = worst_case(engine, problem, True, 25)
    assert cost.each is None and cost.prefill == policy.spec.flops_span(0, policy.count_tokens("1 + 2 ="))


def test_the_minimum_cost_is_one_solution_of_the_problem_cheapest_for_one():
    """p0: prefill 1 + 5 a solution (one: 6, two in one call: 11); p1: 5 + 2 (one: 7, two: 9).
    The cheapest problem is the one cheapest for one solution, p0, whatever two would cost."""
    costs = {"p0": SampleCost(1.0, 5.0, 10), "p1": SampleCost(5.0, 2.0, 10)}
    runner = SimpleNamespace(
        engine=SimpleNamespace(reuse="prefix"),
        pool=SimpleNamespace(total_flops=6.0, total_tokens=None),
        cost=lambda state: costs[state.problem.id],
        allocator=SimpleNamespace(check=lambda runner, states: None),
    )
    runner.worst_flops = lambda state, n: WaveRunner.worst_flops(runner, state, n)
    WaveRunner.check(runner, probed([[], []]))
    runner.pool.total_flops = 5.999
    with pytest.raises(ValueError, match=r"below one problem's minimum cost \(one solution of problem p0: 6 FLOPs"):
        WaveRunner.check(runner, probed([[], []]))


def test_probe_then_allocate_estimates_with_its_selector():
    """Majority voting counts votes even when the solutions carry scores: 2 of 3 agree (with
    the scores as weights the top answer would hold 0.98 of the total)."""
    states = probed([["A", "B", "B"]])
    for node, score in zip(states[0].samples, (0.98, 0.01, 0.01)):
        node.step_scores = [score]
    _probe_allocator().grants(PlanRunner(1e9), states, 1)
    assert states[0].estimate["agreement"] == 0.666667 and states[0].estimate["mean_score"] is None
