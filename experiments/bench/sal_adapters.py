"""infscale's backends in the shapes search-and-learn's search loops call.

search-and-learn (huggingface/search-and-learn, `src/sal/search/`) drives a `vllm.LLM` and
a `sal.models.reward_models.PRM` directly. The toy world differs from its Llama setting in
two ways these adapters bridge, and they count what the loops do not:

- `StepLLM` wraps the `vllm.LLM` infscale's `policy=vllm` holds. The toy checkpoints have
  no chat format, so a conversation renders as the toy prompt followed by the partial
  solution (the very text infscale's engine prompts with). transformers'
  `continue_final_message` would strip the solution's trailing newline, which here is the
  step delimiter, so the rendering is done here instead. The loops stop a step at "\\n\\n"
  (Llama's step break); toy steps end at the task's `step_delimiter` ("\\n"), so that stop
  string is swapped for it. Generated tokens are counted here (the loops' own
  `completion_tokens` is never filled in at the pinned commit), EOS left out as in
  `policy=vllm`, with the time spent inside `generate`.
- `ScoringPRM` gives an infscale `RewardModel` the `score(questions, outputs)` interface:
  each output's text is split into steps with the task's `split_steps` and scored whole
  (the loops rescore every path every iteration), with the time spent scoring.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from infscale.search.backends import RewardModel, ScoreRequest
from infscale.tasks.base import Task

LLAMA_STEP_BREAK = "\n\n"


class PlainChat:
    """A tokenizer stand-in whose chat rendering is the user text, then the assistant text."""

    chat_template: str | None = None  # the loops set it; the toy format has none

    def apply_chat_template(self, conversations: list[list[dict[str, str]]], **_: Any) -> list[str]:
        return ["".join(m["content"] for m in conv if m["role"] in ("user", "assistant")) for conv in conversations]


class StepLLM:
    """`vllm.LLM` for search-and-learn's loops on a checkpoint that breaks steps at `delimiter`."""

    def __init__(self, llm: Any, delimiter: str) -> None:
        self.llm, self.delimiter = llm, delimiter
        self.calls, self.sequences, self.generated, self.seconds = 0, 0, 0, 0.0

    def get_tokenizer(self) -> PlainChat:
        return PlainChat()

    def generate(self, prompts: list[str], params: Any, use_tqdm: bool = False) -> list[Any]:
        params = copy.deepcopy(params)
        if params.stop and LLAMA_STEP_BREAK in params.stop:
            params.stop = [self.delimiter if s == LLAMA_STEP_BREAK else s for s in params.stop]
        started = time.perf_counter()
        outputs = self.llm.generate(prompts, params, use_tqdm=use_tqdm)
        self.seconds += time.perf_counter() - started
        self.calls += 1
        self.sequences += sum(len(o.outputs) for o in outputs)
        self.generated += sum(_generated(c) for o in outputs for c in o.outputs)
        return outputs


def _generated(completion: Any) -> int:
    """Tokens of one completion, EOS not counted (a stop at EOS has no stop string)."""
    ended_at_eos = completion.finish_reason == "stop" and completion.stop_reason is None
    return len(completion.token_ids) - (1 if ended_at_eos and completion.token_ids else 0)


class ScoringPRM:
    """An infscale reward model behind search-and-learn's `PRM.score` interface."""

    def __init__(self, reward: RewardModel, task: Task) -> None:
        self.reward, self.task = reward, task
        self.calls, self.sequences, self.seconds = 0, 0, 0.0

    def score(self, questions: list[str], outputs: list[list[str]]) -> list[list[list[float]]]:
        """Per question, per output: its step scores (`[0.0]` for an output with no step)."""
        if len(questions) != len(outputs):
            raise ValueError(f"{len(questions)} questions but {len(outputs)} output lists")
        requests, owners = [], []
        for i, (question, texts) in enumerate(zip(questions, outputs)):
            for j, text in enumerate(texts):
                steps = tuple(self.task.split_steps(text))
                if steps:
                    requests.append(ScoreRequest(question, steps))
                    owners.append((i, j))
        scores: list[list[list[float]]] = [[[0.0] for _ in texts] for texts in outputs]
        started = time.perf_counter()
        results = self.reward.score(requests) if requests else []
        self.seconds += time.perf_counter() - started
        self.calls += 1
        self.sequences += len(requests)
        for (i, j), result in zip(owners, results):
            scores[i][j] = [float(s) for s in result]
        return scores
