"""Recounting a ledger from a search tree's text, independently of the engine's fields."""

from __future__ import annotations

import networkx as nx

from infscale.search.backends import ScoreRequest


def kaplan(spec, start: int, count: int) -> float:
    """Token by token: 2N + 2 * n_layer * (positions attended) * d_attn."""
    return sum(
        2.0 * spec.n_nonembed + 2.0 * spec.num_hidden_layers * (start + i) * spec.d_attn for i in range(1, count + 1)
    )


def solutions(graph: nx.DiGraph) -> dict[int, str]:
    """Each node's solution text (the root's is empty), from the node texts and edges alone."""
    text = nx.get_node_attributes(graph, "text")
    out = {}
    for node in nx.topological_sort(graph):
        parents = list(graph.predecessors(node))
        out[node] = out[parents[0]] + text[node] if parents else ""
    return out


def recount(
    graph: nx.DiGraph, prompt: str, policy, reward, task, prefix_cache: bool = True, text_tokens: bool = True
) -> dict[str, float]:
    """What a search should have cost, from its tree's text and the backends' tokenizers.

    With `prefix_cache` (`compute.reuse=prefix`, search/charges.py), expanding a node reuses
    its parent's prompt (charged when the parent was expanded) and computes the rest; without
    (`compute.reuse=none`), every prompt is computed whole. Each expanded node is expanded
    once (true of REBASE, DVTS and best-of-N; a node expanded again would reuse its own prompt
    whole and compute nothing). `text_tokens=False` takes a node's generated
    count from the tree (a real model's count includes an end-of-sequence token its text
    lacks); contexts and prompts are still rebuilt from the text.
    """
    parent = {child: source for source, child in graph.edges}
    text, solution = nx.get_node_attributes(graph, "text"), solutions(graph)

    def prompt_of(node: int) -> str:
        return prompt + solution[node]

    tokens = policy.count_tokens
    totals = dict.fromkeys(("generated", "computed", "cached", "reward", "decode", "prefill", "reward_flops"), 0.0)
    for node in graph.nodes:
        if node in parent:  # a generated step, after its parent's prompt
            context = tokens(prompt_of(parent[node]))
            generated = tokens(text[node]) if text_tokens else graph.nodes[node]["tokens"]
            totals["generated"] += generated
            totals["decode"] += kaplan(policy.spec, context, generated)
        if graph.out_degree(node):  # expanded once: its parent's prompt is reused
            cached = tokens(prompt_of(parent[node])) if prefix_cache and node in parent else 0
            computed = tokens(prompt_of(node)) - cached
            totals["computed"] += computed
            totals["cached"] += cached
            totals["prefill"] += kaplan(policy.spec, cached, computed)
        if node in parent and graph.nodes[node]["step_scores"] is not None:
            read = reward.count_tokens(ScoreRequest(prompt, tuple(task.split_steps(solution[node]))))
            totals["reward"] += read
            totals["reward_flops"] += kaplan(reward.spec, 0, read)
    return totals
