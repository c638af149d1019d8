"""The one training loop (`experiments/training/loop.py`): its schedule by hand, resume equal
to an uninterrupted run, and every toy trainer going through it."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from infscale.experiments.training import loop
from infscale.experiments.training.loop import LoopSettings, Schedule, epoch_batch


def test_schedule_values_by_hand():
    schedule = Schedule(lr=1e-3, steps=10, warmup=2)
    # warm-up: (k + 1) / warmup of the peak; cosine over steps 2..10, 0 from step 10 on
    assert schedule.lr_at(0) == pytest.approx(5e-4)
    assert schedule.lr_at(1) == pytest.approx(1e-3)
    assert schedule.lr_at(2) == pytest.approx(1e-3)
    assert schedule.lr_at(4) == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi / 4)))  # 8.536e-4
    assert schedule.lr_at(6) == pytest.approx(5e-4)
    assert schedule.lr_at(10) == 0.0 and schedule.lr_at(15) == 0.0
    # the ladder's policies: peak 3e-3, warm-up 200 of 8000 steps
    ladder = Schedule(lr=3e-3, steps=8000, warmup=200)
    assert ladder.lr_at(99) == pytest.approx(1.5e-3) and ladder.lr_at(4100) == pytest.approx(1.5e-3)
    assert Schedule(lr=1e-3, steps=4, warmup=0).lr_at(0) == 1e-3  # no warm-up: the cosine from step 0
    assert Schedule(lr=1e-3, steps=4, warmup=0).lr_at(2) == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="warmup >= 0"):
        Schedule(lr=1e-3, steps=10, warmup=-1)


class Tiny(nn.Module):
    """A regression net with dropout, so a resumed run also needs the random state back."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(loss=((self.net(x).squeeze(-1) - y) ** 2).mean())


def tiny_batch(step: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(8, 4, generator=g)
    return {"x": x, "y": x.sum(-1), "attention_mask": torch.ones(8, 1)}


class Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes_and_ends_bitwise_equal(tmp_path):
    def settings(folder):
        return LoopSettings(Schedule(0.05, 12, 3), seed=7, state_dir=tmp_path / folder, save_every=4, progress=True)

    whole = loop.train(Tiny, tiny_batch, settings("whole"))

    def stop_at_6(model, done, loss, last):
        if done == 6:
            raise Interrupt

    with pytest.raises(Interrupt):
        loop.train(Tiny, tiny_batch, settings("cut"), stop_at_6)
    assert torch.load(tmp_path / "cut" / "state.pt", weights_only=False)["step"] == 4
    read = []
    resumed = loop.train(Tiny, lambda s: read.append(s) or tiny_batch(s), settings("cut"))
    assert read == list(range(4, 12))  # restarted where the last state was saved
    assert resumed.steps == whole.steps == 12
    assert resumed.losses == whole.losses and whole.losses[-1] < whole.losses[0] / 4
    for (name, a), (_, b) in zip(whole.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    # a different seed is a different run
    other = loop.train(Tiny, tiny_batch, LoopSettings(Schedule(0.05, 12, 3), seed=8))
    assert other.losses != whole.losses


def test_stop_clip_and_time_limit():
    seen = []
    cut = loop.train(
        Tiny, tiny_batch, LoopSettings(Schedule(0.05, 12, 3), stop=5), lambda model, done, loss, last: seen.append(last)
    )
    assert cut.steps == 5 and seen == [False] * 4 + [True]
    timed = loop.train(Tiny, tiny_batch, LoopSettings(Schedule(0.05, 12, 3), seconds=0.0))
    assert timed.steps == 1  # over the limit after the first step
    assert cut.card(12) == {
        "steps": 5,
        "schedule_steps": 12,
        "train_seconds": round(cut.seconds, 1),
        "final_loss": sum(cut.losses) / 5,
    }


def test_epoch_batches_cover_every_row_once_per_epoch():
    rows = list(range(10))
    key = lambda epoch: f"t:{epoch}"  # noqa: E731
    first = [r for step in range(3) for r in epoch_batch(rows, step, 3, key)]
    assert len(set(first)) == 9 and set(first) <= set(rows)  # 3 batches of 3 per epoch, one row left out
    assert epoch_batch(rows, 3, 3, key) != epoch_batch(rows, 0, 3, key)  # epoch 1 reshuffles
    assert epoch_batch(rows, 4, 3, key) == epoch_batch(rows, 4, 3, key)
