"""`reward=replay`: recorded reward scores played back for recorded samples.

A trajectory is matched to its recording by text (ignoring white space, which step
splitting may drop). Outcome recordings (one score per solution, as in `math_cot_100`) make
this an ORM: `outcome = True` and one score per trajectory. Raw logits become
probabilities with `reward.transform: sigmoid`; `none` passes the numbers through.
"""

from __future__ import annotations

from infscale.rewards.transforms import TRANSFORMS
from infscale.search.backends import RewardModel, ScoreRequest
from infscale.tasks.recordings import RecordedTask, Recording, text_key


class ReplayReward(RewardModel):
    name = "replay"
    spec = None
    incremental = False  # a recording is looked up by its whole path

    def __init__(self, task: RecordedTask, transform: str) -> None:
        if not isinstance(task, RecordedTask):
            raise ValueError(f"reward=replay needs a task with recorded scores (e.g. math_cot_100), not '{task.name}'")
        if transform not in TRANSFORMS:
            raise ValueError(f"reward.transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
        self.task, self.transform = task, TRANSFORMS[transform]
        kinds = {r.outcome for p in task.problems() for r in task.recordings(p.prompt)}
        if len(kinds) != 1:
            raise ValueError(f"reward=replay: task '{task.name}' mixes outcome and per-step recordings")
        self.outcome = kinds.pop()
        self._index: dict[str, dict[str, Recording]] = {}

    def count_tokens(self, request: ScoreRequest) -> None:
        return None

    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        return [self._score(request) for request in requests]

    def _recording(self, request: ScoreRequest) -> Recording:
        if request.prompt not in self._index:
            self._index[request.prompt] = {text_key(r.text): r for r in self.task.recordings(request.prompt)}
        found = self._index[request.prompt].get(text_key("".join(request.steps)))
        if found is None:
            raise ValueError(
                f"reward=replay: no recorded score for the trajectory ending {''.join(request.steps)[-80:]!r}"
                + (" (outcome scores exist only for whole recorded solutions)" if self.outcome else "")
            )
        return found

    def _score(self, request: ScoreRequest) -> list[float]:
        recording = self._recording(request)
        if not self.outcome and len(recording.scores) != len(request.steps):
            raise ValueError(
                f"reward=replay: {len(recording.scores)} recorded step scores for {len(request.steps)} steps"
            )
        return [self.transform(x) for x in recording.scores]
