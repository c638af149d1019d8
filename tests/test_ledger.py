"""The ledger's totals equal a recount from the saved trees; paper FLOPs are 2 N D."""

import json

import pytest

from infscale.budgets.model_spec import ModelSpec
from infscale.experiments.app.run import run
from infscale.search.node import Tree, file_safe, load_tree
from infscale.tasks.base import Problem, TextTask
from tests.conftest import make_config, read_results
from tests.engine_helpers import strategy


@pytest.fixture(scope="module")
def rebase_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rebase")
    cfg = make_config("strategy=rebase", "strategy.n=8", "n_problems=12", "save_trees=true", "budget.max_tokens=3000")
    summary = run(cfg, folder)
    return cfg, folder, summary


def test_ledger_equals_recount_from_saved_trees(rebase_run):
    cfg, folder, _ = rebase_run
    policy = ModelSpec.from_config(cfg.policy.model)
    reward = ModelSpec.from_config(cfg.reward.model)
    for record in read_results(folder):
        graph = load_tree(folder / "trees" / f"{file_safe(record['problem_id'])}.json")
        assert graph.graph["problem_id"] == record["problem_id"]
        nodes = [graph.nodes[i] for i in sorted(graph.nodes)]
        generated = sum(n["tokens"] for n in nodes)
        decode = sum(policy.flops_span(n["context"], n["tokens"]) for n in nodes if n["depth"] > 0)
        prefill = sum(policy.flops_span(cached, computed) for n in nodes for cached, computed in n["prefills"])
        computed = sum(c for n in nodes for _, c in n["prefills"])
        reward_tokens = sum(n["reward_tokens"] for n in nodes)
        reward_cached = sum(n["reward_cached"] for n in nodes)
        reward_flops = sum(reward.flops_span(n["reward_cached"], n["reward_tokens"]) for n in nodes)
        assert record["tokens"]["generated"] == generated
        assert record["tokens"]["prompt_computed"] == computed
        assert record["tokens"]["reward"] == reward_tokens
        assert record["tokens"]["reward_cached"] == reward_cached
        assert record["flops"]["policy_decode"] == pytest.approx(decode, rel=1e-12)
        assert record["flops"]["policy_prefill"] == pytest.approx(prefill, rel=1e-12)
        assert record["flops"]["reward"] == pytest.approx(reward_flops, rel=1e-12)
        assert record["flops"]["total"] == pytest.approx(decode + prefill + reward_flops, rel=1e-12)
        assert record["flops"]["paper"] == 2 * policy.n_nonembed * generated
        assert generated <= 3000


def test_tree_format_follows_the_contract(rebase_run):
    _, folder, _ = rebase_run
    record = read_results(folder)[0]
    data = json.loads((folder / "trees" / f"{file_safe(record['problem_id'])}.json").read_text())
    assert "edges" in data and "nodes" in data
    graph = load_tree(folder / "trees" / f"{file_safe(record['problem_id'])}.json")
    assert sorted(graph.nodes) == list(range(graph.number_of_nodes()))
    assert graph.nodes[0]["depth"] == 0 and graph.in_degree(0) == 0
    for parent, child in graph.edges:
        assert graph.nodes[child]["depth"] == graph.nodes[parent]["depth"] + 1
        assert parent < child
    for i in graph.nodes:
        attrs = graph.nodes[i]
        assert {"text", "depth", "tokens", "step_scores", "terminal", "answer"} <= set(attrs)
        if attrs["step_scores"] is not None:
            assert len(attrs["step_scores"]) == attrs["depth"]
    finished = [i for i in graph.nodes if graph.nodes[i]["terminal"]]
    assert len(finished) == record["n_finished"]


def test_file_safe_ids():
    assert file_safe("test/precalculus/807.json") == "test_precalculus_807.json"
    assert file_safe("gsm8k:12 a") == "gsm8k_12_a"


def test_summary_fields(rebase_run):
    _, folder, summary = rebase_run
    for key in (
        "accuracy",
        "accuracy_lo",
        "accuracy_hi",
        "n_problems",
        "flops_total",
        "flops_paper",
        "tokens_generated",
        "wall_s",
    ):
        assert key in summary
    assert sorted(summary["provenance"]) == [
        "checkpoints",
        "config",
        "engine_calls",
        "finished_at",
        "git_commit",
        "shard",
        "versions",
    ]
    assert not {"config", "git_commit", "versions"} & set(summary)  # in the provenance object only
    assert summary["accuracy_lo"] <= summary["accuracy"] <= summary["accuracy_hi"]
    assert summary["n_problems"] == 12
    record = read_results(folder)[0]
    for key in (
        "problem_id",
        "task",
        "level",
        "policy",
        "reward",
        "strategy",
        "budget",
        "seed",
        "answer",
        "reference",
        "correct",
        "n_finished",
        "candidates",
        "tokens",
        "flops",
        "wall_s",
    ):
        assert key in record
    assert isinstance(record["problem_id"], str)
    assert set(record["flops"]) == {"policy_decode", "policy_prefill", "reward", "paper", "total", "executed"}


@pytest.mark.parametrize(
    "name, options",
    [
        ("beam", dict(n=8, beam_width=2, lookahead=2)),  # look-ahead steps are nodes, charged
        ("beam", dict(n=8, beam_width=4, filter_duplicates=True, sort_completed=True)),
        ("dvts", dict(n=8, beam_width=2)),
        ("rebase", dict(n=8, select_method="softmax_with_truncate", truncate_ratio=0.5)),
        ("mcts", dict(n=6, children=3, simulate="sample", output="vote")),
    ],
)
def test_every_strategy_charges_exactly_what_its_tree_holds(name, options):
    from infscale.budgets.budget import Budget
    from infscale.experiments.app.build import load
    from tests.engine_helpers import simulated_engine, strategy

    task = load("task", "simulated", n=4, seed=3)
    engine = simulated_engine(task=task, budget=Budget(max_samples=None, max_tokens=2500, max_flops=None), max_batch=5)
    for outcome in engine.run(task.problems(), strategy(name, task, **options)):
        graph, ledger = outcome.tree.to_networkx(), outcome.ledger
        nodes = [graph.nodes[i] for i in sorted(graph.nodes)]
        policy, reward = engine.policy.spec, engine.reward.spec
        assert ledger.generated == sum(n["tokens"] for n in nodes) <= 2500
        assert ledger.prompt_computed == sum(c for n in nodes for _, c in n["prefills"])
        assert ledger.reward_tokens == sum(n["reward_tokens"] for n in nodes)
        decode = sum(policy.flops_span(n["context"], n["tokens"]) for n in nodes if n["depth"] > 0)
        assert ledger.flops_decode == pytest.approx(decode, rel=1e-12)
        assert ledger.flops_reward == pytest.approx(sum(reward.flops_span(0, n["reward_tokens"]) for n in nodes))


def test_trees_save_into_new_nested_folders_under_file_safe_names(tmp_path):
    tree = Tree(Problem(id="Set A/item 7:x", prompt="Q", reference="1"))
    child = tree.add_child(tree.root, text="s\n", tokens=2, context=1, finish="end", answer="1")
    assert list(tree) == tree.nodes == [tree.root, child]
    assert file_safe("Set A/item 7:x") == "Set_A_item_7_x" and file_safe("AZaz09._-") == "AZaz09._-"
    path = tree.save(tmp_path / "new" / "nested")
    assert path == tmp_path / "new" / "nested" / "Set_A_item_7_x.json"
    assert sorted(p.name for p in path.parent.iterdir()) == ["Set_A_item_7_x.json"]
    graph = load_tree(path)
    assert list(graph.edges) == [(0, 1)] and graph.nodes[1]["answer"] == "1" and graph.nodes[1]["tokens"] == 2


def test_a_strategy_ranks_best_value_first_and_ties_by_creation_order():
    """`Strategy.ranked`, the helper a strategy written by a user (docs/tutorial.md) sorts with."""
    rank = strategy("best_of_n", TextTask(), aggregation="min").ranked
    tree = Tree(Problem(id="p", prompt="Q", reference="1"))
    scores = [[0.5], [0.9, 0.2], [0.7], None, [0.7, 0.8]]
    nodes = [tree.add_child(tree.root, text=f"{k}", step_scores=s) for k, s in enumerate(scores)]
    # values (min): 0.5, 0.2, 0.7, 0 (unscored), 0.7
    assert [n.text for n in rank(nodes)] == ["2", "4", "0", "1", "3"]
    assert [n.text for n in rank(list(reversed(nodes)))] == ["2", "4", "0", "1", "3"]
