"""The one training loop of the toy world's models (toy_arith policies and PRM, the toy_sum
ladder, the PRMs of the lessons study): seeded model construction, AdamW, linear warm-up
then cosine decay, gradient clipping, periodic state checkpoints and resume.

A trainer passes what differs: how to build the model, the batch of a step (a pure function
of the step, so a resumed run reads the same batches), and the recipe's numbers. A run cut
and restarted from its last state checkpoint ends bitwise equal to one that never stopped
(the state holds model, optimizer, losses and the torch random state).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from tqdm import tqdm

Batch = dict[str, torch.Tensor]
T = TypeVar("T")


@dataclass(frozen=True)
class Schedule:
    """Linear warm-up to `lr` over `warmup` steps (step k gets lr * (k + 1) / warmup), then
    half a cosine from `lr` to 0 at step `steps`; after `steps` it stays at 0. Warm-up 0
    (the lessons' short runs) starts the cosine at step 0."""

    lr: float
    steps: int
    warmup: int

    def __post_init__(self) -> None:
        if self.steps < 1 or self.warmup < 0 or self.lr <= 0:
            raise ValueError(f"schedule needs steps >= 1, warmup >= 0 and lr > 0, got {self}")

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.steps - self.warmup)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


@dataclass(frozen=True)
class LoopSettings:
    """`stop` ends the run early inside the schedule of `schedule.steps` (a run cut short
    for CPU time); `seconds` ends it after that much training time (the ladder's GPU
    budget; such a run is not reproducible). `state_dir` None: no state checkpoints.
    `progress` False: no progress bar and no per-step loss read-out, which would wait for
    the GPU every step (the ladder reads its losses in `on_step`)."""

    schedule: Schedule
    seed: int = 0
    weight_decay: float = 0.01
    clip: float | None = 1.0
    stop: int | None = None
    seconds: float | None = None
    state_dir: Path | None = None
    save_every: int = 250
    name: str = "train"
    progress: bool = True


@dataclass
class LoopResult:
    model: torch.nn.Module
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)

    def card(self, schedule_steps: int) -> dict[str, Any]:
        """The model-card fields every trainer writes (final loss: mean of the last 50)."""
        tail = self.losses[-50:]
        return {
            "steps": self.steps,
            "schedule_steps": schedule_steps,
            "train_seconds": round(self.seconds, 1),
            "final_loss": sum(tail) / max(1, len(tail)),
        }


OnStep = Callable[[torch.nn.Module, int, torch.Tensor, bool], None]


def train(
    build: Callable[[], torch.nn.Module],
    batches: Callable[[int], Batch],
    settings: LoopSettings,
    on_step: OnStep | None = None,
) -> LoopResult:
    """Seed torch, build the model, train it on `batches(step)` (loss: `model(**batch).loss`).

    `on_step(model, done, loss, last)` runs after every optimizer step (`done` steps
    trained, `last` on the final one); the ladder saves and validates there.
    """
    torch.manual_seed(settings.seed)
    model = build()
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.schedule.lr, weight_decay=settings.weight_decay)
    state_path = settings.state_dir / "state.pt" if settings.state_dir is not None else None
    start, elapsed, losses = 0, 0.0, []
    if state_path is not None and state_path.exists():
        state = torch.load(state_path, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start, elapsed, losses = state["step"], state["elapsed"], state["losses"]
    model.train()
    end = settings.stop or settings.schedule.steps
    bar = tqdm(range(start, end), initial=start, total=end, desc=settings.name, disable=not settings.progress)
    tic, tokens, done = time.perf_counter(), 0, start
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = settings.schedule.lr_at(step)
        batch = batches(step)
        loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if settings.clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
        optimizer.step()
        done = step + 1
        if settings.progress:
            tokens += int(batch["attention_mask"].sum())
            losses.append(float(loss.detach()))
            if step % 20 == 0:
                rate = tokens / max(1e-9, time.perf_counter() - tic)
                bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.4f}", tok_s=f"{rate:.0f}")
        out_of_time = settings.seconds is not None and elapsed + time.perf_counter() - tic > settings.seconds
        if on_step is not None:
            on_step(model, done, loss, out_of_time or done == end)
        if out_of_time:
            break
        if state_path is not None and done % settings.save_every == 0 and done < end:
            state_path.parent.mkdir(parents=True, exist_ok=True)
            state = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "rng": torch.get_rng_state(),
                "step": done,
                "elapsed": elapsed + time.perf_counter() - tic,
                "losses": losses,
            }
            torch.save(state, state_path)
    bar.close()
    return LoopResult(model, done, elapsed + time.perf_counter() - tic, losses)


def epoch_batch(rows: Sequence[T], step: int, size: int, key: Callable[[int], str]) -> list[T]:
    """The rows of batch `step` when every epoch reads all rows in the order of a
    `random.Random(key(epoch))` shuffle: a pure function of the step, so a run resumes exactly."""
    per_epoch = max(1, len(rows) // size)
    epoch, index = divmod(step, per_epoch)
    order = list(range(len(rows)))
    random.Random(key(epoch)).shuffle(order)
    return [rows[i] for i in order[index * size : (index + 1) * size]]
