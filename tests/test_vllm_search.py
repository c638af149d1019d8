"""The same REBASE search (toy policy, n=8, 20 problems, seed 0) with policy=hf + reward=hf_prm
and with policy=vllm + reward=vllm_prm, through `infscale-run`: both finish, accuracies
agree within their 95% CIs, and the vLLM run's ledger charges the reuse model's prompts and
paths at their real positions (recounted from the trees' text with the toy tokenizer),
whatever whole blocks vLLM's prefix cache served."""

import json

import pytest
from transformers import AutoConfig

from infscale.budgets.model_spec import ModelSpec
from infscale.experiments.app.build import load
from infscale.experiments.app.resolvers import package_path
from infscale.search.node import file_safe, load_tree
from infscale.tasks.toy_tokenizer import build_char_tokenizer
from tests.conftest import read_results, run_cli
from tests.recount import kaplan, solutions

pytestmark = [pytest.mark.vllm, pytest.mark.slow]
N_PROBLEMS = 20
SEARCH = ["task=toy_arith", "strategy=rebase", "strategy.n=8", f"n_problems={N_PROBLEMS}", "seed=0", "save_trees=true"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folders = {}
    for name, backends in {
        "hf": ["policy=toy_small", "reward=toy_prm"],
        "vllm": ["policy=vllm_toy_small", "reward=vllm_toy_prm"],
    }.items():
        folder = tmp_path_factory.mktemp(name)
        done = run_cli(*SEARCH, *backends, f"hydra.run.dir={folder}", timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        folders[name] = folder
    return folders


def summary(folder):
    return json.loads((folder / "summary.json").read_text())


def test_both_backends_finish_with_accuracies_within_each_others_ci(runs):
    hf, vllm = summary(runs["hf"]), summary(runs["vllm"])
    assert hf["n_problems"] == vllm["n_problems"] == N_PROBLEMS
    assert hf["accuracy_lo"] <= vllm["accuracy"] <= hf["accuracy_hi"]
    assert vllm["accuracy_lo"] <= hf["accuracy"] <= vllm["accuracy_hi"]
    for folder in runs.values():  # both backends reuse prefixes for the policy and the PRM
        records = read_results(folder)
        assert sum(r["tokens"]["prompt_cached"] for r in records) > 0
        assert sum(r["tokens"]["reward_cached"] for r in records) > 0


def test_vllm_prm_paths_are_charged_by_the_reuse_model(runs):
    """vLLM's prefix cache serves whole blocks, but the ledger charges the reuse model: each
    scored path whole, split at its scored ancestor's path; the blocks show in `recomputed`."""
    prm_tokenizer = build_char_tokenizer()
    task = load("task", "toy_arith", seed=0)
    prompts = {p.id: p.prompt for p in task.problems()}
    for record in read_results(runs["vllm"]):
        tree = json.loads((runs["vllm"] / "trees" / f"{file_safe(record['problem_id'])}.json").read_text())
        nodes = {n["id"]: n for n in tree["nodes"]}
        parent = {e["target"]: e["source"] for e in tree["edges"]}
        for node_id, node in nodes.items():
            if not node["step_scores"]:
                continue
            solution, walk = "", node_id
            while walk in parent:
                solution, walk = nodes[walk]["text"] + solution, parent[walk]
            # the toy PRM reads the prompt and each step ending in its newline tag
            text = prompts[record["problem_id"]] + "".join(s.rstrip("\n") + "\n" for s in task.split_steps(solution))
            assert node["reward_tokens"] + node["reward_cached"] >= len(prm_tokenizer.encode(text))


def test_vllm_cache_hits_are_charged_at_their_real_positions(runs):
    """Every context and prompt length is rebuilt from the saved tree's text with the toy
    tokenizer; FLOPs are summed token by token (tests/recount.py), not with the ledger's
    own formula, so the check is independent of what the engine computed. The charge is the
    reuse model's (a node reuses its parent's prompt), whatever blocks vLLM's cache served."""
    spec = ModelSpec.from_config(AutoConfig.from_pretrained(package_path("tasks/toy_checkpoints/toy_small")))
    tokenizer = build_char_tokenizer()
    prompts = {p.id: p.prompt for p in load("task", "toy_arith", seed=0).problems()}
    cached_total = 0
    for record in read_results(runs["vllm"]):
        graph = load_tree(runs["vllm"] / "trees" / f"{file_safe(record['problem_id'])}.json")
        parent = {child: source for source, child in graph.edges}
        prompt, solution = prompts[record["problem_id"]], solutions(graph)
        length = {node: len(tokenizer.encode(prompt + solution[node])) for node in graph.nodes}
        cached = computed = 0
        prefill = uncached_prefill = decode = 0.0
        for node in graph.nodes:
            if node in parent:
                decode += kaplan(spec, length[parent[node]], graph.nodes[node]["tokens"])
            for c, k in graph.nodes[node]["prefills"]:
                assert c + k == length[node]
                cached, computed = cached + c, computed + k
                prefill += kaplan(spec, c, k)
                uncached_prefill += kaplan(spec, 0, c + k)
        assert (record["tokens"]["prompt_cached"], record["tokens"]["prompt_computed"]) == (cached, computed)
        assert record["flops"]["policy_prefill"] == pytest.approx(prefill, rel=1e-12)
        assert record["flops"]["policy_decode"] == pytest.approx(decode, rel=1e-12)
        if cached:
            assert record["flops"]["policy_prefill"] < uncached_prefill
        cached_total += cached
    assert cached_total > 0
