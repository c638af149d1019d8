"""The engine: strategies written for one problem, run for many problems at once.

Every live problem's strategy is a generator parked on one operation. Its scheduler
(`engine.scheduler`, search/scheduler.py) decides which problems start and whose pending
operations go out together; the engine gathers those `Expand`s into policy calls and those
`Score`s into reward calls, each call at most `max_batch` sequences (`auto`: the size the
backends ask for, search/batching.py), sends every result back
to the generator that asked, and charges each problem's ledger by the reuse model
(`compute.reuse`, search/charges.py; what the backends report running is only observed).
Budgets are checked per problem against an operation's worst case before it is issued, and,
with a data-set `Pool`, reserved from the pool while its call is in flight (settled with the
actual charge when it returns; see search/jobs.py).
An allocator continues problems across calls of `run` (`resume`). Sampling seeds derive from
(run seed, problem id, node id, expansion count), so results do not depend on batching.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from infscale.budgets.budget import Budget
from infscale.budgets.ledger import Ledger, prefill_flops, span_flops
from infscale.budgets.pool import Pool
from infscale.search.backends import (
    GenerationRequest,
    GenerationResult,
    Policy,
    RewardModel,
    ScoreRequest,
)
from infscale.search.batching import AUTO, resolve_max_batch
from infscale.search.charges import check_reuse, path_charge, prompt_charge
from infscale.search.continuous import Continuous
from infscale.search.executor import BoundRun
from infscale.search.jobs import Job, WorstCase, issue, ledger_mark, settle_reservation, split_calls
from infscale.search.lockstep import Lockstep
from infscale.search.node import Node, Tree
from infscale.search.ops import Decision, Expand, Score
from infscale.search.reuse import REUSE_KEYS, count_reuse
from infscale.search.scheduler import ProblemRun, Scheduler
from infscale.search.scores import checked_scores, known_scores, reported_cost
from infscale.search.strategy import Strategy
from infscale.tasks.base import Problem, Task, derive_seed


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    max_step_tokens: int = 256
    max_tokens: int = 1024


@dataclass
class Outcome:
    problem: Problem
    decision: Decision
    ledger: Ledger
    tree: Tree
    wall_s: float


# engine.scheduler: name -> the scheduler, given engine.max_concurrent.
SCHEDULERS: dict[str, Callable[[int], Scheduler]] = {"lockstep": Lockstep, "continuous": Continuous}


class Engine:
    def __init__(
        self,
        task: Task,
        policy: Policy,
        reward: RewardModel | None,
        budget: Budget | None = None,
        sampling: Sampling | None = None,
        max_batch: int | str = AUTO,
        max_concurrent: int = 512,
        seed: int = 0,
        progress: bool = False,
        pool: Pool | None = None,
        scheduler: str = "lockstep",
        batch_wait_ms: float = 5.0,
        reuse: str = "prefix",
    ):
        max_batch = resolve_max_batch(max_batch, policy, reward)
        if max_concurrent < 1:
            raise ValueError(f"engine.max_concurrent must be >= 1, got {max_concurrent}")
        if isinstance(batch_wait_ms, bool) or not isinstance(batch_wait_ms, (int, float)) or not batch_wait_ms >= 0:
            raise ValueError(f"engine.batch_wait_ms must be a non-negative number, got {batch_wait_ms!r}")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"unknown engine.scheduler '{scheduler}' (known: {', '.join(SCHEDULERS)})")
        self.task, self.policy, self.reward = task, policy, reward
        self.budget = budget or Budget.unlimited()
        self.sampling = sampling or Sampling()
        self.max_batch, self.batch_wait_ms = max_batch, float(batch_wait_ms)
        self.scheduler = SCHEDULERS[scheduler](max_concurrent)
        self.seed, self.progress = seed, progress
        self.pool = pool
        self.reuse = check_reuse(reuse)  # compute.reuse: what the ledger charges (search/charges.py)
        self.calls = {
            "policy": 0,
            "policy_sequences": 0,
            "policy_s": 0.0,
            "reward": 0,
            "reward_sequences": 0,
            "reward_s": 0.0,
            **dict.fromkeys(REUSE_KEYS, 0),
        }

    @property
    def max_concurrent(self) -> int:
        return self.scheduler.max_concurrent

    def run(
        self,
        problems: Iterable[Problem],
        strategy: Strategy,
        *,
        ordered: bool = True,
        stop: Callable[[], bool] | None = None,
        resume: dict[str, tuple[Tree, Ledger]] | None = None,
    ) -> Iterator[Outcome]:
        """Yield one `Outcome` per problem: in the order given, or (`ordered=False`) the moment
        each finishes, so a caller can save it at once. `stop()`, asked by the scheduler before
        it submits more work, ends the run early: no new work is issued and unfinished problems
        are dropped. A
        problem listed in `resume` continues its tree and ledger (its root keeps its expansion
        count, so new samples get new seeds) instead of starting afresh."""
        problems = list(problems)
        executor = BoundRun(self, strategy, resume or {})
        with tqdm(
            total=len(problems), disable=not self.progress, desc=f"{strategy.__class__.__name__}", unit="problem"
        ) as bar:
            for run in self.scheduler.run(problems, executor, ordered=ordered, stop=stop):
                yield self._outcome(run)
                bar.update()

    def _start(
        self, index: int, problem: Problem, strategy: Strategy, continued: tuple[Tree, Ledger] | None
    ) -> ProblemRun:
        tree, ledger = continued or (
            Tree(problem, derive_seed(self.seed, problem.id, "tree")),
            Ledger(self.policy.spec, None if self.reward is None else self.reward.spec),
        )
        run = ProblemRun(index, tree, ledger, strategy.run(tree.root))
        self._advance(run, None)
        return run

    def _execute(self, runs: Sequence[ProblemRun], max_depth: int) -> None:
        """Issue the pending operations of `runs` and send each result to its strategy."""
        self._expand([r for r in runs if isinstance(r.op, Expand)], max_depth)
        self._score([r for r in runs if isinstance(r.op, Score)])
        for run in runs:
            self._advance(run, run.reply)

    def _advance(self, run: ProblemRun, reply: list[Node] | None) -> None:
        started = time.perf_counter()
        try:
            op = run.steps.send(reply)
        except StopIteration as stop:
            op, run.decision = None, stop.value
        run.wall_s += time.perf_counter() - started
        if op is not None and not isinstance(op, (Expand, Score)):
            raise TypeError(f"a strategy yielded {type(op).__name__}; only Expand and Score are operations")
        run.op, run.reply = op, []

    def _outcome(self, run: ProblemRun) -> Outcome:
        return Outcome(run.tree.problem, run.decision, run.ledger, run.tree, run.wall_s)

    # --- expansion -------------------------------------------------------------------

    def _expand(self, runs: list[ProblemRun], max_depth: int) -> None:
        jobs = [job for run in runs for job in self._expand_jobs(run)]
        for batch in issue(self.pool, jobs, self.max_batch, split=self.budget.max_flops is None):
            self._expanded(batch, self._call("policy", batch), max_depth)
        for job in jobs:
            job.run.reply.extend(job.children)

    def _expanded(self, batch: list[Job], results: list[GenerationResult], max_depth: int) -> None:
        """The results of one policy call, attached to their nodes in the order of `batch`."""
        if len(results) != len(batch):
            raise ValueError(f"policy '{self.policy.name}' returned {len(results)} results for {len(batch)} requests")
        for job, result in zip(batch, results):
            self._attach(job, result, max_depth)

    def _expand_jobs(self, run: ProblemRun) -> list[Job]:
        op, problem, sampling = run.op, run.tree.problem, self.sampling
        widths = op.widths()
        if any(not isinstance(w, int) or w < 0 for w in widths):
            raise ValueError(f"Expand widths must be non-negative integers, got {widths}")
        temperature = sampling.temperature if op.temperature is None else op.temperature
        # what the jobs so far would cost at worst, for the budget's checks (none to make uncapped)
        capped, jobs = self.budget.capped, []
        shadow = copy.copy(run.ledger) if capped else run.ledger
        for node, wanted in zip(op.nodes, widths):
            if wanted == 0:
                continue
            if node.terminal:
                raise ValueError(f"strategy expanded finished node {node.id} of problem {problem.id}")
            so_far = node.generated or 0
            limit = sampling.max_tokens - so_far
            if op.until == "step":
                limit = min(limit, sampling.max_step_tokens)
            if limit <= 0:
                continue
            prompt = problem.prompt + node.solution
            length = self.policy.count_tokens(prompt)
            spec = self.policy.spec
            charge = prompt_charge(self.reuse, self.policy, node, length)
            fixed, each = prefill_flops(spec, *charge), span_flops(spec, length, limit)
            fit = self.budget.affordable_samples(shadow, wanted, limit, fixed, each)
            if fit == 0 and run.ledger.samples == 0 and not jobs:
                raise ValueError(
                    f"the budget ({self._budget_text()}) is below the worst-case cost of one step "
                    f"({limit} tokens) for problem {problem.id}"
                )
            worst = WorstCase(fixed, each, limit)
            chunks = split_calls(self.pool, self.max_batch, fit, worst)
            if not chunks:
                continue
            base_seed = derive_seed(self.seed, problem.id, node.id, node.expansions)
            node.expansions += 1
            for offset, count in chunks:
                part = charge if offset == 0 else (0, 0)  # one prefill per expansion
                if capped:
                    shadow.charge_prompt(*part)
                    for _ in range(count):
                        shadow.charge_sample(length, limit)
                request = GenerationRequest(
                    prompt=prompt,
                    n=count,
                    until=op.until,
                    stop=self.task.step_delimiter,
                    max_tokens=limit,
                    temperature=temperature,
                    seed=base_seed + offset,
                )
                jobs.append(
                    Job(
                        run,
                        node,
                        request,
                        length,
                        count,
                        worst=worst if offset == 0 else worst.without_prompt(),
                        charge=part,
                    )
                )
        return jobs

    def _attach(self, job: Job, result: GenerationResult, max_depth: int) -> None:
        run, node, request = job.run, job.node, job.request
        if len(result.samples) != request.n:
            raise ValueError(f"policy '{self.policy.name}' returned {len(result.samples)} samples for n={request.n}")
        computed, cached = result.prompt_computed, result.prompt_cached
        context = job.context
        if context is None and computed is not None and cached is not None:
            context = computed + cached
        node.prefills.append((job.charge[1], job.charge[0]))
        before = ledger_mark(job, run.ledger)
        run.ledger.charge_prompt(*job.charge)
        run.ledger.observe_prompt(computed, cached)
        so_far = node.generated
        for sample in result.samples:
            run.ledger.charge_sample(context, sample.tokens)
            if sample.tokens is not None and sample.tokens > request.max_tokens:
                raise ValueError(
                    f"policy '{self.policy.name}' generated {sample.tokens} tokens, over max_tokens={request.max_tokens}"
                )
            child = run.tree.add_child(
                node, text=sample.text, tokens=sample.tokens, context=context, finish=sample.finish
            )
            generated = None if so_far is None or sample.tokens is None else so_far + sample.tokens
            self._mark_finish(child, max_depth, generated)
            job.children.append(child)
        settle_reservation(self.pool, job, before, run.ledger)

    def _mark_finish(self, child: Node, max_depth: int, generated: int | None) -> None:
        """Decide whether a new node ends its solution (`generated` tokens from the root), and
        with which answer."""
        if child.finish == "step" and self.task.extract_answer(child.text) is not None:
            child.finish = "end"
        if child.finish == "step" and generated is not None and generated >= self.sampling.max_tokens:
            child.finish = "length"
        if child.finish == "step" and child.depth >= max_depth:
            child.finish = "depth"
        child.terminal = child.finish != "step"
        if child.finish == "end":
            child.answer = self.task.extract_answer(child.solution)

    # --- scoring -----------------------------------------------------------------------

    def _score(self, runs: list[ProblemRun]) -> None:
        jobs = [job for run in runs for job in self._score_jobs(run)]
        for batch in issue(self.pool, jobs, self.max_batch):
            self._scored(batch, self._call("reward", batch))
        for run in runs:
            self._reply(run, [])

    def _score_jobs(self, run: ProblemRun) -> list[Job]:
        if self.reward is None:
            raise ValueError("this strategy scores steps, but reward=none: choose a reward model")
        jobs = []
        shadow = copy.copy(run.ledger) if self.budget.max_flops is not None else None
        seen = set()
        for node in run.op.nodes:
            if node.step_scores is not None or id(node) in seen:
                continue
            seen.add(id(node))
            steps = tuple(self.task.split_steps(node.solution))
            known, scores = known_scores(self.reward, self.task, node, steps)
            if len(steps) == known:
                node.step_scores, node.reward_tokens, node.reward_cached = list(scores), 0, 0
                continue
            request = ScoreRequest(run.tree.problem.prompt, steps, known)
            tokens = self.reward.count_tokens(request)
            charge = path_charge(self.reuse, self.reward, request, tokens)
            flops = prefill_flops(self.reward.spec, *charge)
            if shadow is not None:
                if not self.budget.affords_flops(shadow, flops):
                    continue
                shadow.charge_reward(*charge)
            jobs.append(Job(run, node, request, context=tokens, known=scores, worst=WorstCase(flops), charge=charge))
        return jobs

    def _scored(self, batch: list[Job], scores: list[list[float]]) -> None:
        """The scores of one reward call, set on their nodes and charged in the order of `batch`."""
        if len(scores) != len(batch):
            raise ValueError(
                f"reward '{self.reward.name}' returned {len(scores)} score lists for {len(batch)} trajectories"
            )
        for job, values in zip(batch, scores):
            observed = reported_cost(self.reward, job, values)
            job.node.step_scores = job.known + checked_scores(self.reward, values, job)
            job.node.reward_tokens, job.node.reward_cached = job.charge
            before = ledger_mark(job, job.run.ledger)
            job.run.ledger.charge_reward(*job.charge)
            job.run.ledger.observe_reward(*observed)
            settle_reservation(self.pool, job, before, job.run.ledger)

    def _reply(self, run: ProblemRun, jobs: list[Job]) -> None:
        """The answer to `run`'s operation once all its `jobs` are in: an `Expand`'s new
        children in the order of its nodes, a `Score`'s scored nodes."""
        if isinstance(run.op, Expand):
            run.reply = [child for job in jobs for child in job.children]
        else:
            run.reply = [node for node in run.op.nodes if node.step_scores is not None]

    # --- helpers -----------------------------------------------------------------------

    def _call(self, backend: str, batch: list[Job]) -> list[Any]:
        """One backend call, timed and counted."""
        results, seconds = self._timed_call(backend, batch)
        self._account(backend, batch, results, seconds)
        return results

    def _timed_call(self, backend: str, batch: list[Job]) -> tuple[list[Any], float]:
        """The backend call alone (safe to run outside the engine's thread): results and seconds."""
        method = self.policy.generate if backend == "policy" else self.reward.score
        started = time.perf_counter()
        results = method([job.request for job in batch])
        return results, time.perf_counter() - started

    def _account(self, backend: str, batch: list[Job], results: list[Any], seconds: float) -> None:
        """A call's time shared among its problems by their sequences in it; its counts, and
        the prompt tokens its backend reports served from a prefix cache (`reuse.py`)."""
        total = sum(job.cost for job in batch)
        for job in batch:
            job.run.wall_s += seconds * job.cost / total
        self.calls[f"{backend}_s"] += seconds
        self.calls[backend] += 1
        self.calls[f"{backend}_sequences"] += total
        count_reuse(self.calls, backend, results)

    def _budget_text(self) -> str:
        caps = {k: v for k, v in self.budget.to_dict().items() if v is not None}
        return ", ".join(f"budget.{k}={v}" for k, v in caps.items())
