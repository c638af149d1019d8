"""PRM quality as a dial: the noisy oracle's error rate, and `cost_as` charging an oracle
exactly what the named PRM is charged."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from infscale.experiments.build import build, load
from infscale.rewards.oracle import OraclePRM, expected_error
from infscale.search.backends import ScoreRequest
from infscale.tasks.toy_arith import ToyArithTask

TASK = ToyArithTask(seed=3, level="mixed", n=400)


def oracle(label_noise=0.0, score_noise=0.0, seed=0, cost_as=None) -> OraclePRM:
    return OraclePRM(TASK, name="oracle", label_noise=label_noise, score_noise=score_noise, seed=seed, cost_as=cost_as)


def corrupted(text: str, k: int) -> str:
    """The solution with the result of its step k (mod its length) off by one."""
    lines = text.split("\n")
    k %= len(lines) - 1
    head, value = lines[k].split("=")
    lines[k] = f"{head}={(int(value) + 1) % 100}"
    return "\n".join(lines)


def requests_with_labels() -> tuple[list[ScoreRequest], list[bool]]:
    """Right solutions and solutions with one wrong step: about 70% right steps."""
    requests, labels = [], []
    for i, problem in enumerate(TASK.problems()):
        text = TASK.solution(problem) if i % 2 else corrupted(TASK.solution(problem), i)
        steps = tuple(TASK.split_steps(text))
        requests.append(ScoreRequest(problem.prompt, steps))
        labels += TASK.process_labels(problem, list(steps))
    return requests, labels


@pytest.mark.parametrize(("label_noise", "score_noise"), [(0.2, 0.0), (0.0, 0.4), (0.1, 0.3), (0.0, 0.0)])
def test_noisy_oracle_error_rate_lies_in_its_confidence_interval(label_noise, score_noise):
    requests, labels = requests_with_labels()
    assert 0.2 < labels.count(False) / len(labels) < 0.5 and len(labels) > 1500
    scores = [s for row in oracle(label_noise, score_noise, seed=7).score(requests) for s in row]
    assert all(0.0 <= s <= 1.0 for s in scores)
    wrong = sum((s > 0.5) != ok for s, ok in zip(scores, labels))
    expected = expected_error(label_noise, score_noise)
    if expected == 0.0:
        assert wrong == 0
        return
    # two-sided exact binomial test at the 0.1% level: the rate is what the dial says
    assert binomtest(wrong, len(labels), expected).pvalue > 1e-3, (wrong / len(labels), expected)
    # and errors hit right and wrong steps alike (a flip is not a bias towards one label)
    for side in (True, False):
        pairs = [(s, ok) for s, ok in zip(scores, labels) if ok == side]
        errors = sum((s > 0.5) != ok for s, ok in pairs)
        assert binomtest(errors, len(pairs), expected).pvalue > 1e-3


def test_noisy_oracle_is_seeded_and_prefix_stable():
    requests, _ = requests_with_labels()
    noisy = oracle(0.1, 0.3, seed=1)
    first = noisy.score(requests[:50])
    assert first == oracle(0.1, 0.3, seed=1).score(requests[:50])
    assert first != oracle(0.1, 0.3, seed=2).score(requests[:50])
    for request, row in zip(requests[:50], first):
        shorter = noisy.score([ScoreRequest(request.prompt, request.steps[:2])])[0]
        assert shorter == row[:2]
    # score noise spreads the scores: not only 0 and 1
    assert len({round(s, 6) for row in first for s in row}) > 50


def test_noisy_oracle_refuses_bad_settings():
    with pytest.raises(ValueError, match="reward.score_noise"):
        oracle(score_noise=-0.1)
    with pytest.raises(ValueError, match="reward.label_noise"):
        oracle(label_noise=1.5)
    with pytest.raises(ValueError, match="reward.cost_as='no_such_prm' names no reward config"):
        oracle(cost_as="no_such_prm")
    with pytest.raises(ValueError, match="reward.cost_as=oracle: needs a transformers PRM config"):
        oracle(cost_as="oracle")


def test_cost_as_uses_the_named_prm_token_count_and_spec(config):
    config()  # registers the resolvers the reward YAMLs use
    prm = load("reward", "toy_prm", task=TASK)
    charged = oracle(cost_as="toy_prm")
    assert charged.spec == prm.spec and charged.spec.n_nonembed > 800_000
    requests, _ = requests_with_labels()
    assert [charged.count_tokens(r) for r in requests] == [prm.count_tokens(r) for r in requests]
    assert oracle().spec is None and oracle().count_tokens(requests[0]) == 0


@pytest.mark.slow
@pytest.mark.parametrize("reward", ["oracle", "noisy_oracle"])
def test_cost_as_charges_equal_the_named_prm_in_a_search(config, reward):
    """Best-of-N scores every sample once, so the oracle charged as toy_prm and toy_prm itself
    score the same trajectories: every ledger entry of the reward must agree exactly."""
    common = ("task=toy_arith", "task.n=6", "policy=toy_small", "strategy=best_of_n", "strategy.n=4")
    runs = {}
    for name, extra in {
        "prm": ("reward=toy_prm",),
        "dial": (f"reward={reward}", "reward.cost_as=toy_prm"),
    }.items():
        parts = build(config(*common, *extra))
        runs[name] = list(parts.engine.run(parts.task.problems(), parts.strategy))
    for prm, dial in zip(runs["prm"], runs["dial"]):
        assert prm.ledger.generated == dial.ledger.generated  # same samples
        assert dial.ledger.reward_tokens == prm.ledger.reward_tokens > 0
        assert dial.ledger.flops_reward == pytest.approx(prm.ledger.flops_reward, rel=1e-12)
        assert dial.ledger.flops_total == pytest.approx(prm.ledger.flops_total, rel=1e-12)
