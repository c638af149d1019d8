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

    With `prefix_cache`, the policy caches the prompts it computed: expanding a node, the
    cache serves its parent's prompt (computed when the parent was expanded), or the node's
    whole prompt if an earlier node had the very same one; without, every prompt is computed
    whole. Each expanded node is expanded once, in one request (true of REBASE, beam and
    best-of-N with `max_batch` above the width). `text_tokens=False` takes a node's generated
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
        if graph.out_degree(node):  # expanded once, in one request: what could the cache serve?
            earlier_twin = any(
                other < node and graph.out_degree(other) and prompt_of(other) == prompt_of(node)
                for other in graph.nodes
            )
            if not prefix_cache:
                cached = 0
            elif earlier_twin:
                cached = tokens(prompt_of(node))
            else:
                cached = tokens(prompt_of(parent[node])) if node in parent else 0
            computed = tokens(prompt_of(node)) - cached
            totals["computed"] += computed
            totals["cached"] += cached
            totals["prefill"] += kaplan(policy.spec, cached, computed)
        if node in parent and graph.nodes[node]["step_scores"] is not None:
            read = reward.count_tokens(ScoreRequest(prompt, tuple(task.split_steps(solution[node]))))
            totals["reward"] += read
            totals["reward_flops"] += kaplan(reward.spec, 0, read)
    return totals
