"""What a strategy or a backend can get wrong, and the seeds the engine derives: one-line
errors and hand-worked requests (written from surviving mutants of search/engine.py; collected
through tests/test_engine_scheduling.py, which the mutation selection lists)."""

from __future__ import annotations

import pytest

from tests.engine_helpers import recorded_engine, strategy


def _scripted(ops, **engine_kwargs):
    """A recorded engine on two problems and best_of_n's settings with `ops(root)` (a generator
    of operations) as its run."""
    task, engine, policy, _ = recorded_engine(2, **engine_kwargs)
    script = strategy("best_of_n", task, n=2)
    object.__setattr__(script, "run", ops)
    return task, engine, policy, script


def test_trees_are_seeded_by_run_seed_and_problem_and_a_node_expanded_again_gets_new_seeds():
    from infscale.search.ops import Expand
    from infscale.tasks.base import derive_seed

    def three_times(root):
        for _ in range(3):
            yield Expand([root], n=1, until="step")
        return root.children  # anything but None ends a run

    task, engine, policy, script = _scripted(three_times, seed=11)
    policy.prompt_of = lambda request: request  # record the requests themselves
    outcomes = list(engine.run(task.problems(), script))
    for outcome in outcomes:
        assert outcome.tree.seed == derive_seed(11, outcome.problem.id, "tree")
        assert outcome.tree.root.expansions == 3
    seeds = [r.seed for call, _ in policy.calls for r in call if r.prompt == task.problems()[0].prompt]
    root = outcomes[0].tree.root
    assert seeds == [derive_seed(11, task.problems()[0].id, root.id, k) for k in range(3)]


def test_a_width_of_zero_skips_its_node_and_the_next_one_is_still_expanded():
    from infscale.search.ops import Expand

    def skip_first(root):
        (child,) = yield Expand([root], n=1, until="step")
        children = yield Expand([child, root], n=[0, 2], until="step")
        return children

    task, engine, _, script = _scripted(skip_first)
    outcome = next(iter(engine.run(task.problems()[:1], script)))
    assert [len(x.children) for x in outcome.tree.nodes if x.depth <= 1] == [3, 0, 0, 0]


@pytest.mark.parametrize(
    "fault, error, message",
    [
        ("yield", TypeError, "a strategy yielded str; only Expand and Score are operations"),
        ("width", ValueError, "Expand widths must be non-negative integers, got [-1]"),
        ("finished", ValueError, "strategy expanded finished node {node} of problem {problem}"),
        ("samples", ValueError, "policy 'toy_small' returned 1 samples for n=2"),
        ("results", ValueError, "policy 'toy_small' returned 0 results for 1 requests"),
    ],
)
def test_what_a_strategy_or_policy_gets_wrong_is_one_line(fault, error, message):
    from infscale.search.ops import Expand

    def ops(root):
        if fault == "yield":
            yield "expand, please"
        elif fault == "width":
            yield Expand([root], n=[-1], until="step")
        else:
            children = yield Expand([root], n=2 if fault != "finished" else 1, until="end")
            yield Expand(children, n=1, until="end")

    task, engine, policy, script = _scripted(ops)
    real = policy.inner.generate
    if fault == "samples":
        policy.inner.generate = lambda requests: [
            type(r)(**{**r.__dict__, "samples": r.samples[:1]}) for r in real(requests)
        ]
    if fault == "results":
        policy.inner.generate = lambda requests: real(requests)[:-1]
    problem = task.problems()[0]
    with pytest.raises(error) as raised:
        list(engine.run([problem], script))
    text = message.format(node=1, problem=problem.id).replace("toy_small", policy.name)
    assert str(raised.value) == text


def test_a_strategy_that_decides_at_once_gives_its_outcome():
    """A run whose strategy returns before any operation (a resumed, finished search does)."""

    def at_once(root):
        return []
        yield  # a generator all the same

    task, engine, _, script = _scripted(at_once)
    outcomes = list(engine.run(task.problems(), script))
    assert [o.problem.id for o in outcomes] == [p.id for p in task.problems()]
    assert all(len(o.tree.nodes) == 1 and o.ledger.samples == 0 for o in outcomes)


def test_a_solution_one_token_short_of_the_limit_asks_for_that_token():
    from infscale.search.engine import Engine, Sampling
    from infscale.search.ops import Expand
    from tests.engine_helpers import Recorder
    from tests.fake_backends import full_length_policy, simulated_prm, simulated_task

    def two_steps(root):
        (child,) = yield Expand([root], n=1, until="step")
        return (yield Expand([child], n=1, until="step"))

    task = simulated_task(n=1, seed=3, level=5)
    policy = Recorder(full_length_policy(64), lambda request: request)
    engine = Engine(task, policy, simulated_prm(), None, Sampling(temperature=0.0, max_step_tokens=64, max_tokens=65))
    script = strategy("best_of_n", task, n=1)
    object.__setattr__(script, "run", two_steps)
    (outcome,) = engine.run(task.problems(), script)
    assert [r.max_tokens for call, _ in policy.calls for r in call] == [64, 1]  # 65 - 64 left
