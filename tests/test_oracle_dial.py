"""PRM quality as a dial: the noisy oracle's error rate, and `cost_as` charging an oracle
exactly what the named PRM is charged."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from infscale.experiments.app.build import build, load
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


def requests_with_labels(task: ToyArithTask = TASK) -> tuple[list[ScoreRequest], list[bool]]:
    """Right solutions and solutions with one wrong step (about 70% right steps on TASK),
    with their first-error labels; every scored prefix is distinct, so each step gets its own draw."""
    requests, labels = [], []
    for i, problem in enumerate(task.problems()):
        text = task.solution(problem) if i % 2 else corrupted(task.solution(problem), i)
        steps = tuple(task.split_steps(text))
        requests.append(ScoreRequest(problem.prompt, steps))
        labels += task.process_labels(problem, list(steps))
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


def test_a_charged_oracle_scores_new_steps_only_and_charges_what_follows_the_cached_path(config):
    """With cost_as=toy_prm (incremental, prefix cache on) a request with `known` = k gets the
    scores of its steps after k, equal to the tail of the whole path's scores, and is charged
    the PRM's tokens after the path of its first k steps (served from the cache); without
    cost_as the oracle rescores whole paths and is charged nothing."""
    config()
    charged, prm = oracle(0.1, 0.3, seed=5, cost_as="toy_prm"), load("reward", "toy_prm", task=TASK)
    assert charged.incremental and not oracle().incremental
    requests, _ = requests_with_labels()
    for request in requests[:40]:
        whole = charged.score([request])[0]
        ids, positions = prm.encode(request).ids, prm.encode(request).positions
        assert (whole.computed, whole.cached) == (len(ids), 0)
        for known in range(1, len(request.steps)):
            part = charged.score([ScoreRequest(request.prompt, request.steps, known)])[0]
            assert list(part) == list(whole)[known:]
            # the path of the known steps ends right after the last known step's score tag
            prefix = ScoreRequest(request.prompt, request.steps[:known])
            assert positions[known - 1] + 1 == len(prm.encode(prefix).ids)
            assert (part.computed, part.cached) == (len(ids) - len(prm.encode(prefix).ids), len(prm.encode(prefix).ids))
    assert oracle(0.1, 0.3, seed=5).score(requests[:3]) == [list(r) for r in charged.score(requests[:3])]


def test_a_charged_oracle_follows_the_named_configs_incremental_and_cache(config, tmp_path):
    config()
    request = requests_with_labels()[0][1]
    whole_paths = oracle(cost_as={**_toy_prm_config(), "incremental": False})
    assert not whole_paths.incremental
    no_cache = oracle(cost_as={**_toy_prm_config(), "cache_mb": 0})
    assert no_cache.incremental
    reply = no_cache.score([ScoreRequest(request.prompt, request.steps, 1)])[0]
    assert (reply.computed, reply.cached) == (no_cache.count_tokens(request), 0)  # no cache: the whole path runs
    with pytest.raises(ValueError, match="reward.cache_mb must be a non-negative number"):
        oracle(cost_as={**_toy_prm_config(), "cache_mb": -1})
    with pytest.raises(ValueError, match="reward.incremental must be true or false"):
        oracle(cost_as={**_toy_prm_config(), "incremental": "yes"})


def _toy_prm_config() -> dict:
    from infscale.rewards.prm_cost import load_reward_config

    return load_reward_config("toy_prm")


@pytest.mark.slow
def test_a_charged_oracle_in_tree_search_is_charged_what_the_named_prm_charges_for_its_requests(config):
    """REBASE with the oracle charged as toy_prm: every scoring call's requests, replayed in
    the same calls through toy_prm itself (its real prefix cache, batches and encodings),
    cost exactly what the oracle reported, and the ledger holds their sum."""
    parts = build(
        config(
            "task=toy_arith",
            "task.n=4",
            "policy=toy_small",
            "strategy=rebase",
            "strategy.n=8",
            "reward=oracle",
            "reward.cost_as=toy_prm",
        )
    )
    calls, real_score = [], parts.engine.reward.score

    def recording(requests):
        replies = real_score(requests)
        calls.append((requests, replies))
        return replies

    parts.engine.reward.score = recording
    outcomes = list(parts.engine.run(parts.task.problems(), parts.strategy))
    prm = load("reward", "toy_prm", task=parts.task)
    assert sum(r.known > 0 for requests, _ in calls for r in requests) > 20  # incremental requests were made
    for requests, replies in calls:
        for request, reply, real in zip(requests, replies, prm.score(requests)):
            assert (reply.computed, reply.cached) == (real.computed, real.cached), request
            assert len(reply) == len(real)
    computed = sum(reply.computed for _, replies in calls for reply in replies)
    cached = sum(reply.cached for _, replies in calls for reply in replies)
    assert sum(o.ledger.reward_tokens for o in outcomes) == computed
    assert sum(o.ledger.reward_cached for o in outcomes) == cached > computed  # most of each path is cached
