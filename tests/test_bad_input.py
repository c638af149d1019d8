"""Bad input gets a clear one-line error naming it, never a traceback or a wrong number."""

import math

import pytest

from infscale.experiments.app.build import SAMPLING_KEYS, load, load_config, plain
from infscale.search.backends import RewardModel
from infscale.search.engine import Engine
from tests.conftest import run_cli
from tests.engine_helpers import simulated_engine, strategy


@pytest.mark.slow
@pytest.mark.parametrize(
    "override, expected",
    [
        ("strategy=bogus", "strategy=bogus: no such strategy (known: adaptive, beam, best_of_n"),
        ("task=bogus", "task=bogus: no such task (known: gsm8k, math500"),
        (
            "allocator=bogus",
            "allocator=bogus: no such allocator (known: from_sweep, none, probe_then_allocate, uniform)",
        ),
        ("allocator=uniform,bogus", "allocator=bogus: no such allocator"),
        ("strategy.n=-3", "strategy.n must be a positive integer, got -3"),
        ("budget.max_tokens=10", "budget.max_tokens=10 is below one step's worst-case cost"),
        ("strategy.selector=loudest", "unknown strategy.selector 'loudest'"),
        ("compute.reuse=lru", "compute.reuse must be one of prefix, none, got 'lru'"),
    ],
)
def test_cli_reports_bad_input_in_one_line(tmp_path, override, expected):
    result = run_cli(override, "n_problems=2", f"hydra.run.dir={tmp_path}")
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    if "no such" in expected:  # checked before Hydra starts: exactly one line
        assert result.stderr.strip().count("\n") == 0


class WrongCountPRM(RewardModel):
    name, spec, outcome = "wrong-count", None, False

    def count_tokens(self, request):
        return 1

    def score(self, requests):
        return [[0.5] * (len(r.steps) + 1) for r in requests]


class NaNPRM(WrongCountPRM):
    name = "nan"

    def score(self, requests):
        return [[math.nan] * len(r.steps) for r in requests]


@pytest.mark.parametrize(
    "reward, message",
    [(WrongCountPRM(), r"returned 2 scores for a trajectory of 1 steps"), (NaNPRM(), "outside \\[0, 1\\] or NaN")],
)
def test_broken_reward_backends_are_caught(reward, message):
    task = load("task", "simulated", n=2)
    engine = simulated_engine(task=task)
    engine = Engine(task, engine.policy, reward)
    with pytest.raises(ValueError, match=message):
        list(engine.run(task.problems(), strategy("rebase", task, n=4)))


def test_a_scoring_strategy_without_reward_model_is_refused():
    task = load("task", "simulated", n=2)
    engine = Engine(task, simulated_engine(task=task).policy, None)
    with pytest.raises(ValueError, match="reward=none"):
        list(engine.run(task.problems(), strategy("beam", task, n=4)))


def test_unknown_strategy_option_is_named():
    with pytest.raises(ValueError, match="strategy 'rebase' has no option\\(s\\) beam_width"):
        load("strategy", "rebase", task=load("task", "simulated", n=1), beam_width=4)


def test_a_blank_step_scores_zero_and_the_search_goes_on():

    from infscale.policies.simulated import SimulatedPolicy
    from infscale.search.backends import GenerationResult, Sample

    class BlankFirstSample(SimulatedPolicy):
        def generate(self, requests):
            results = super().generate(requests)
            return [
                GenerationResult([Sample("\n", 1, "step"), *r.samples[1:]], r.prompt_computed, r.prompt_cached)
                if q.until == "step"
                else r
                for q, r in zip(requests, results)
            ]

    task = load("task", "simulated", n=5)
    base = simulated_engine(task=task)
    options = plain(load_config("policy=simulated").policy)
    policy = BlankFirstSample(**{k: v for k, v in options.items() if k not in (*SAMPLING_KEYS, "_target_")})
    engine = Engine(task, policy, base.reward)
    outcomes = list(engine.run(task.problems(), strategy("rebase", task, n=6)))
    blanks = [n for o in outcomes for n in o.tree.nodes if n.text == "\n"]
    assert blanks and all(n.score == 0.0 for n in blanks if n.step_scores is not None and n.parent.id == 0)
    assert all(o.decision.answer is not None for o in outcomes)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("beam", dict(n=10, beam_width=4), "strategy.n=10 must be a multiple of strategy.beam_width=4"),
        ("dvts", dict(n=10, beam_width=4), "strategy.n=10 must be a multiple of strategy.beam_width=4"),
        ("beam", dict(n=4, beam_width=8), "strategy.beam_width=8 must not exceed strategy.n=4"),
        ("dvts", dict(n=2, beam_width=4), "strategy.beam_width=4 must not exceed strategy.n=2"),
        ("beam", dict(lookahead=-1), "strategy.lookahead must be a non-negative integer, got -1"),
        ("beam", dict(lookahead=True), "strategy.lookahead must be a non-negative integer, got True"),
        ("beam", dict(lookahead=1.5), "strategy.lookahead must be a non-negative integer, got 1.5"),
        ("beam", dict(filter_duplicates="yes"), "^strategy.filter_duplicates must be true or false, got 'yes'$"),
        ("beam", dict(sort_completed=1), "^strategy.sort_completed must be true or false, got 1$"),
        ("mcts", dict(output="max_iter"), "unknown strategy.output 'max_iter' \\(known: max_reward, "),
        ("mcts", dict(simulate="greedy"), "unknown strategy.simulate 'greedy' \\(known: max, sample, random\\)"),
        ("rebase", dict(select_method="top_k"), "unknown strategy.select_method 'top_k'"),
        ("rebase", dict(truncate_ratio=0.0), "strategy.truncate_ratio must lie in \\(0, 1\\], got 0.0"),
        ("rebase", dict(truncate_ratio=1.5), "strategy.truncate_ratio must lie in \\(0, 1\\], got 1.5"),
        ("best_of_n", dict(unanswered="ignore"), "unknown strategy.unanswered 'ignore' \\(known: vote, drop\\)"),
    ],
)
def test_bad_strategy_options_are_refused_naming_the_key(name, options, message):
    with pytest.raises(ValueError, match=message) as error:
        strategy(name, load("task", "simulated", n=1), **options)
    assert "\n" not in str(error.value)
