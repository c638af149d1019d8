"""What the engine accepts from a reward model and how it scores incrementally, with numbers
worked out by hand. Written to kill surviving mutants of search/engine.py (`make mutation`,
docs/testing.md)."""

from __future__ import annotations

import re

import pytest

from infscale.search.backends import RewardModel
from tests.engine_helpers import strategy

# --- what the engine accepts from a reward model --------------------------------------------


class _FixedPRM(RewardModel):
    """Scores every step with `value`; `outcome=True` scores a trajectory once."""

    spec = None

    def __init__(self, value, outcome=False, extra=0):
        self.value, self.outcome, self.extra, self.name = value, outcome, extra, f"fixed-{value}"
        self.requests = []

    def count_tokens(self, request):
        return 3

    def score(self, requests):
        self.requests += requests
        width = (lambda r: 1) if self.outcome else (lambda r: len(r.steps) - r.known)
        return [[self.value] * (width(r) + self.extra) for r in requests]


def _greedy_with(reward, n_problems=1):
    from infscale.search.engine import Engine
    from tests.fake_backends import simulated_policy, simulated_task

    task = simulated_task(n=n_problems, seed=3)
    engine = Engine(task, simulated_policy(), reward)
    return task, list(engine.run(task.problems(), strategy("rebase", task, n=2)))


@pytest.mark.parametrize("value", [0.0, 1.0, 0, 1, True])
def test_scores_on_the_closed_unit_interval_are_accepted_as_floats(value):
    task, outcomes = _greedy_with(_FixedPRM(value))
    scores = [s for node in outcomes[0].tree.nodes if node.step_scores for s in node.step_scores]
    assert scores and all(s == float(value) and type(s) is float for s in scores)


@pytest.mark.parametrize("value", [1.0000001, -1e-9, float("inf"), float("-inf"), float("nan"), 2.0])
def test_a_score_outside_the_unit_interval_names_the_reward_problem_and_node(value):
    reward = _FixedPRM(value)
    with pytest.raises(ValueError) as error:
        _greedy_with(reward)
    message = str(error.value)
    assert message.startswith(f"reward 'fixed-{value}' returned a score outside [0, 1] or NaN: [{value}")
    assert message.endswith(", node 1)") and "(problem " in message


def test_an_outcome_model_gives_one_score_per_trajectory():
    reward = _FixedPRM(0.25, outcome=True)
    task, outcomes = _greedy_with(reward)
    scored = [node for node in outcomes[0].tree.nodes if node.step_scores is not None]
    assert scored and all(node.step_scores == [0.25] for node in scored)
    assert any(len(r.steps) > 1 for r in reward.requests)  # deeper paths still get one score


def test_a_wrong_score_count_is_refused_with_the_counts_and_where():
    with pytest.raises(ValueError) as error:
        _greedy_with(_FixedPRM(0.5, extra=1))
    assert str(error.value).startswith("reward 'fixed-0.5' returned 2 scores for a trajectory of 1 steps, 0 of them")
    assert "scored before (problem " in str(error.value) and str(error.value).endswith(", node 1)")
    with pytest.raises(ValueError, match="^reward 'fixed-0.5' returned 2 scores for a trajectory of 1 steps"):
        _greedy_with(_FixedPRM(0.5, outcome=True, extra=1))


# --- incremental scoring -------------------------------------------------------------------


class _StepPRM(RewardModel):
    """A prefix-stable PRM: a step's score depends on its text only (len % 7 / 10). With
    `incremental`, it scores steps[known:] and reports 5 tokens computed per new step and
    5 per known step as cached (`plain`: a bare list, no cost report)."""

    spec, outcome, name = None, False, "step-prm"

    def __init__(self, incremental: bool, plain: bool = False):
        self.incremental, self.plain, self.requests = incremental, plain, []

    def count_tokens(self, request):
        return 5 * len(request.steps)

    def score(self, requests):
        from infscale.search.backends import ScoreResult

        self.requests += requests
        out = []
        for r in requests:
            scores = [len(s) % 7 / 10 for s in r.steps[r.known :]]
            out.append(scores if self.plain else ScoreResult(scores, 5 * (len(r.steps) - r.known), 5 * r.known))
        return out


def _rebase_with(reward):
    from infscale.search.engine import Engine, Sampling
    from tests.fake_backends import simulated_policy, simulated_task

    task = simulated_task(n=1, seed=3, level=3)
    engine = Engine(task, simulated_policy(), reward, None, Sampling(1.0, 256, 1024))
    (outcome,) = engine.run(task.problems(), strategy("rebase", task, n=4))
    return task, outcome


def test_an_incremental_prm_is_asked_only_for_new_steps_and_its_cost_is_charged():
    task, whole = _rebase_with(_StepPRM(incremental=False))
    reward = _StepPRM(incremental=True)
    task, outcome = _rebase_with(reward)
    # the same tree and the same scores as scoring whole paths
    assert [n.step_scores for n in outcome.tree.nodes] == [n.step_scores for n in whole.tree.nodes]
    assert all(r.known == len(r.steps) - 1 for r in reward.requests)  # the parent was scored
    assert sum(r.known > 0 for r in reward.requests) > 0
    for node in outcome.tree.nodes:
        if node.step_scores is not None and node.parent is not None:
            steps = len(node.step_scores)
            assert (node.reward_tokens, node.reward_cached) == (5, 5 * (steps - 1))
            assert node.step_scores[:-1] == (node.parent.step_scores or [])
    scored = [n for n in outcome.tree.nodes if n.step_scores is not None and n.parent is not None]
    assert outcome.ledger.reward_tokens == 5 * len(scored)
    assert outcome.ledger.reward_cached == sum(5 * (len(n.step_scores) - 1) for n in scored)
    # not incremental: whole paths, every token computed
    assert whole.ledger.reward_cached == 0
    assert whole.ledger.reward_tokens == sum(5 * len(n.step_scores) for n in whole.tree.nodes if n.step_scores)


def test_an_incremental_prm_must_report_its_cost():
    message = "reward 'step-prm' scores incrementally but did not report its computed tokens (return a ScoreResult)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _rebase_with(_StepPRM(incremental=True, plain=True))
    task, outcome = _rebase_with(_StepPRM(incremental=False, plain=True))  # whole paths: the count is known
    assert outcome.ledger.reward_cached == 0 and outcome.ledger.reward_tokens > 0


def test_an_outcome_model_is_never_asked_incrementally():
    reward = _StepPRM(incremental=True)
    reward.outcome = True
    reward.score = lambda requests: [[0.5] for r in requests if not reward.requests.append(r)]
    task, outcome = _rebase_with(reward)
    assert reward.requests and all(r.known == 0 for r in reward.requests)


def test_incremental_scoring_starts_from_the_nearest_scored_ancestor():
    # beam's two-step look-ahead scores only its last node: the step between is never
    # scored, so the known prefix comes from the copy two steps up
    from infscale.search.engine import Engine, Sampling
    from tests.fake_backends import simulated_policy, simulated_task

    task = simulated_task(n=1, seed=3, level=5)
    reward = _StepPRM(incremental=True)
    engine = Engine(task, simulated_policy(), reward, None, Sampling(1.0, 256, 1024))
    beam = strategy("beam", task, n=4, beam_width=2, lookahead=2, max_depth=4)
    (outcome,) = engine.run(task.problems(), beam)
    # two new steps after a grandparent scored in an earlier round (a copy and its look-ahead
    # scored in the same round know only what was scored before: gaps of 1 to 3)
    assert any(r.known > 0 and len(r.steps) - r.known == 2 for r in reward.requests)
    assert {len(r.steps) - r.known for r in reward.requests} == {1, 2, 3}
    for node in outcome.tree.nodes:
        if node.step_scores and node.depth >= 2 and node.parent.step_scores is None:
            grand = node.parent.parent.step_scores or []
            assert node.step_scores[: len(grand)] == grand


def test_known_scores_are_reused_only_where_the_ancestor_path_is_a_prefix():
    # known_scores on a hand-built path: root -> a (scored [0.1, 0.2] over 2 steps)
    # -> b (unscored) -> c.
    from infscale.search.node import Tree
    from infscale.search.scores import known_scores
    from tests.fake_backends import simulated_task

    task = simulated_task(n=1, seed=3)
    reward = _StepPRM(incremental=True)
    tree = Tree(task.problems()[0])
    a = tree.add_child(tree.root, text="s1\ns2\n", tokens=4, context=0, finish="step")
    a.step_scores = [0.1, 0.2]
    b = tree.add_child(a, text="s3\n", tokens=2, context=0, finish="step")
    c = tree.add_child(b, text="s4\n", tokens=2, context=0, finish="step")
    steps = ("s1\n", "s2\n", "s3\n", "s4\n")
    assert known_scores(reward, task, c, steps) == (2, [0.1, 0.2])
    assert known_scores(reward, task, c, steps[:2]) == (2, [0.1, 0.2])  # exactly the ancestor's steps
    assert known_scores(reward, task, c, steps[:1]) == (0, [])  # fewer steps than the ancestor scored
    assert known_scores(reward, task, c, ("s1\n", "sX\n", "s3\n", "s4\n")) == (0, [])  # not a prefix
    a.step_scores = []
    assert known_scores(reward, task, c, steps) == (0, [])  # an ancestor scored nothing
    reward.incremental = False
    a.step_scores = [0.1, 0.2]
    assert known_scores(reward, task, c, steps) == (0, [])


class _NoFlagsPRM(RewardModel):
    """A per-step PRM that sets neither `outcome` nor `incremental` (it has the RewardModel
    protocol's defaults: a PRM scoring whole paths) and cannot count its tokens."""

    spec, name = None, "no-flags"

    def count_tokens(self, request):
        return None

    def score(self, requests):
        return [[0.5] * len(r.steps) for r in requests]


def test_a_reward_model_without_flags_scores_every_step_and_unknown_costs_stay_unknown():
    task, outcome = _rebase_with(_NoFlagsPRM())
    scored = [n for n in outcome.tree.nodes if n.step_scores is not None and n.parent is not None]
    assert scored and all(n.step_scores == [0.5] * len(task.split_steps(n.solution)) for n in scored)
    assert any(len(n.step_scores) > 1 for n in scored)
    assert all(n.reward_tokens is None and n.reward_cached is None for n in scored)
    assert outcome.ledger.reward_tokens is None and outcome.ledger.reward_cached is None


def test_an_incremental_prm_without_an_outcome_flag_is_asked_incrementally():
    class Incremental(RewardModel):  # `_StepPRM` leaving `outcome` at the protocol's default
        spec, name, incremental = None, "no-outcome", True
        count_tokens = _StepPRM.count_tokens
        score = _StepPRM.score

        def __init__(self):
            self.plain, self.requests = False, []

    reward = Incremental()
    _rebase_with(reward)
    assert any(r.known > 0 for r in reward.requests)
