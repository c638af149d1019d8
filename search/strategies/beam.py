"""Step-level beam search, as search-and-learn's `_beam_search` (Snell et al., 2024).

N = `n` samples per iteration and M = `beam_width` children per kept beam: N/M beams
survive each iteration. Iteration 0 samples N first steps. Every later iteration lists the
k survivors in order and repeats that list until it is N long (with k survivors the first
N mod k get one extra copy); every copy takes one step, the last iteration (`max_depth`)
to the end of the solution. A copy that ends is appended to the completed list. Of the
unfinished, the N/M with the highest aggregated score survive, keeping their order (a
stable ascending sort, the last N/M: among equal scores the later ones). The search stops
when none is left; the first N completed (`sort_completed`: the N best) are the candidates.

Options: `filter_duplicates` drops an unfinished beam whose text repeats an earlier one
before the survivors are chosen; `lookahead` = k greedy steps (temperature 0) after each
unfinished copy's sampled step, scored in its place (the look-ahead nodes are generated
and charged like any step, but they are never beams or candidates).
docs/strategies.md lists where this differs from the reference, and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from infscale.search.node import Node
from infscale.search.ops import Expand, Score
from infscale.search.strategy import Run, Strategy


@dataclass
class BeamSearch(Strategy):
    beam_width: int
    lookahead: int
    filter_duplicates: bool
    sort_completed: bool

    def __post_init__(self) -> None:
        super().__post_init__()
        check_beam_width(self.n, self.beam_width)
        if not isinstance(self.lookahead, int) or isinstance(self.lookahead, bool) or self.lookahead < 0:
            raise ValueError(f"strategy.lookahead must be a non-negative integer, got {self.lookahead!r}")
        for key in ("filter_duplicates", "sort_completed"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"strategy.{key} must be true or false, got {getattr(self, key)!r}")

    def run(self, root: Node) -> Run:
        keep, completed, beams = self.n // self.beam_width, [], [root]
        for depth in range(self.max_depth):
            last = depth == self.max_depth - 1
            copies = (list(range(len(beams))) * (self.n // len(beams) + 1))[: self.n]
            widths = [copies.count(b) for b in range(len(beams))]
            children = yield Expand(beams, n=widths, until="end" if last else "step")
            copies = _in_copy_order(beams, copies, children)
            ended = [x for x in copies if x.terminal or x.text == ""]
            values = yield from self._judge(copies, [x for x in copies if x not in ended], last)
            completed += [x for x in ended if x.step_scores is not None]
            alive = [x for x in copies if x in values]
            if self.filter_duplicates:
                seen: set[str] = set()
                alive = [x for x in alive if not (x.solution in seen or seen.add(x.solution))]
            if not alive:
                break
            ranked = sorted(range(len(alive)), key=lambda k: values[alive[k]])  # stable, ascending
            survivors = set(ranked[-keep:])
            beams = [x for k, x in enumerate(alive) if k in survivors]
        if self.sort_completed:
            completed = sorted(completed, key=self.value, reverse=True)
        return self.decide(completed[: self.n])

    def _judge(self, copies: list[Node], alive: list[Node], last: bool) -> Run:
        """Score every copy; the value of each unfinished, scored one (of its look-ahead's
        trajectory where there is one)."""
        ahead = {x: x for x in alive}
        frontier = [] if last else list(alive)
        for _ in range(self.lookahead):
            frontier = [x for x in frontier if not ahead[x].terminal]
            if not frontier:
                break
            steps = yield Expand([ahead[x] for x in frontier], n=1, temperature=0.0)
            by_parent = {id(s.parent): s for s in steps}
            frontier = [x for x in frontier if id(ahead[x]) in by_parent]
            for x in frontier:
                ahead[x] = by_parent[id(ahead[x])]
        if not copies:
            return {}
        yield Score(copies + [a for x, a in ahead.items() if a is not x])
        return {
            x: self.value(ahead[x]) for x in alive if x.step_scores is not None and ahead[x].step_scores is not None
        }


def check_beam_width(n: int, m: int) -> None:
    """N/M beams (or subtrees) of M: M must be a positive divisor of N (one-line errors)."""
    if not isinstance(m, int) or isinstance(m, bool) or m < 1:
        raise ValueError(f"strategy.beam_width must be a positive integer, got {m!r}")
    if m > n:
        raise ValueError(f"strategy.beam_width={m} must not exceed strategy.n={n}")
    if n % m:
        raise ValueError(f"strategy.n={n} must be a multiple of strategy.beam_width={m}")


def _in_copy_order(beams: list[Node], copies: list[int], children: list[Node]) -> list[Node]:
    """The children rearranged into the reference's list of copies (beam 0, 1, ..., 0, 1, ...).

    The engine answers node by node; copy j of beam b is b's j-th child. Copies a budget
    cut short are left out.
    """
    own = {id(b): [x for x in children if x.parent is b] for b in beams}
    taken = {id(b): 0 for b in beams}
    ordered = []
    for b in copies:
        kids, j = own[id(beams[b])], taken[id(beams[b])]
        if j < len(kids):
            ordered.append(kids[j])
        taken[id(beams[b])] = j + 1
    return ordered
