"""`policy=replay`: recorded samples played back as if they were generated.

The task supplies the recordings (`tasks.recordings.RecordedTask`, e.g. `math_cot_100`).
A request's prompt is a problem's prompt followed by the solution so far; the samples are
the k recordings that continue that solution. `order: recorded` (default) plays them in
the recorded order, sample j = recording j, so width n sees the first n and the seed does
not matter; `order: seeded` plays recording `(seed + j) mod k` for the request's seed (the
engine derives it from the run seed and the problem), so each run seed sees another
window of recordings, as resampling would. `until="step"` returns the next step of the
recording (up to and including `stop`), `until="end"` the rest. Token counts of
replayed text are unknown and reported as `None`, never guessed.
"""

from __future__ import annotations

from infscale.policies.task_prompts import TaskPrompts
from infscale.search.backends import GenerationRequest, GenerationResult, Sample
from infscale.tasks.recordings import RecordedTask, Recording

ORDERS = ("recorded", "seeded")


class ReplayPolicy:
    name = "replay"
    spec = None

    def __init__(self, task: RecordedTask, order: str) -> None:
        if order not in ORDERS:
            raise ValueError(f"policy.order must be one of {', '.join(ORDERS)}, got {order!r}")
        self.order = order
        if not isinstance(task, RecordedTask):
            raise ValueError(f"policy=replay needs a task with recorded samples (e.g. math_cot_100), not '{task.name}'")
        self.task = task
        self._prompts = TaskPrompts(p.prompt for p in task.problems())

    def count_tokens(self, text: str) -> None:
        return None

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        return [self._generate(request) for request in requests]

    def _split(self, prompt: str) -> tuple[str, str]:
        split = self._prompts.split(prompt)
        if split is not None:
            return split
        raise ValueError(f"policy=replay: no recorded problem has a prompt that starts {prompt[:80]!r}")

    def _generate(self, request: GenerationRequest) -> GenerationResult:
        base, solution = self._split(request.prompt)
        fitting = [r for r in self.task.recordings(base) if r.text.startswith(solution) and len(r.text) > len(solution)]
        if not fitting:
            raise ValueError(f"policy=replay: no recording continues the solution {solution[-80:]!r}")
        if request.until == "end" and request.n > len(fitting):
            raise ValueError(
                f"policy=replay: {request.n} samples asked for, but only {len(fitting)} recordings fit this prompt"
            )
        offset = request.seed if self.order == "seeded" else 0
        samples = [self._continue(fitting[(offset + j) % len(fitting)], solution, request) for j in range(request.n)]
        return GenerationResult(samples, prompt_computed=None, prompt_cached=None)

    @staticmethod
    def _continue(recording: Recording, solution: str, request: GenerationRequest) -> Sample:
        rest = recording.text[len(solution) :]
        if request.until == "step" and request.stop:
            cut = rest.find(request.stop)
            if cut >= 0 and cut + len(request.stop) < len(rest):
                return Sample(rest[: cut + len(request.stop)], None, "step")
        return Sample(rest, None, "end")
