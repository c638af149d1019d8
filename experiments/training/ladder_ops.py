"""What only the ladder (`experiments/training/ladder.py`) needs: training sequences of
`toy_sum` as a device-resident matrix and its batches, the toy PRM's input encoding and
scoring in large batches, batched sampling on one device, checker labels, the ladder's shapes.

The main stack's pieces are used where they fit: the task (`ToySumTask`: problems, steps,
answers, labels), the character tokenizer's vocabulary, the training loop (`loop.py`) and
the engine's answer selection (`ladder_metrics.py`). Only torch, numpy, transformers and the
task are imported (no Hydra or OmegaConf), so the ladder runs on a bare GPU machine from a
copy of the source tree.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from infscale.rewards.qwen2_prm import IGNORE_INDEX
from infscale.tasks.base import Problem
from infscale.tasks.toy_arith import TRAIN_SEED_BASE
from infscale.tasks.toy_sum import SUM_LEVELS, ToySumTask, draw_sum, format_sum_prompt, random_path
from infscale.tasks.toy_tokenizer import build_char_tokenizer

VOCAB: dict[str, int] = build_char_tokenizer().get_vocab()
PAD, BOS, EOS = VOCAB["<pad>"], VOCAB["<s>"], VOCAB["</s>"]
INVERSE = {i: token for token, i in VOCAB.items()}
STEP_TAG = "\n"
MAX_NEW_TOKENS = 100
TASK = ToySumTask(seed=0, level="mixed", n=1)  # the checker; it does not depend on the seed


def ids(text: str) -> list[int]:
    return [VOCAB[c] for c in text]


def training_sequence(seed: int, index: int) -> tuple[list[int], int]:
    """Training example `index` (levels in turn) of data seed `seed` (>= TRAIN_SEED_BASE):
    prompt + a uniformly random right path + EOS, and the prompt's length."""
    if seed < TRAIN_SEED_BASE:
        raise ValueError(f"training data seed {seed} is an evaluation seed (< {TRAIN_SEED_BASE})")
    rng = random.Random(f"toy_sum:{seed}:train:{index}")
    levels = sorted(SUM_LEVELS)
    start, terms = draw_sum(rng, levels[index % len(levels)])
    prompt = ids(format_sum_prompt(start, terms))
    return prompt + ids(random_path(start, terms, rng)) + [EOS], len(prompt)


def training_block(args: tuple[int, int, int, int]) -> np.ndarray:
    """Rows [first, first + count) as a uint8 matrix: width-1 token columns, then the prompt length."""
    seed, first, count, width = args
    out = np.zeros((count, width), dtype=np.uint8)
    for row in range(count):
        tokens, prompt = training_sequence(seed, first + row)
        if len(tokens) > width - 1:
            raise ValueError(f"training sequence of {len(tokens)} tokens exceeds the width {width - 1}")
        out[row, : len(tokens)] = tokens
        out[row, -1] = prompt
    return out


def policy_batch(block: torch.Tensor) -> dict[str, torch.Tensor]:
    """A batch from rows of `training_block` (on the device): loss on solution and EOS only."""
    tokens, prompt = block[:, :-1].long(), block[:, -1].long()
    width = int((tokens != PAD).sum(1).max())
    tokens = tokens[:, :width]
    mask = (tokens != PAD).long()
    positions = torch.arange(width, device=tokens.device)[None, :]
    labels = torch.where((positions >= prompt[:, None]) & (mask == 1), tokens, IGNORE_INDEX)
    return {"input_ids": tokens, "attention_mask": mask, "labels": labels}


class EpochOrder:
    """Row indices of batch `step` when each epoch reads the rows in a fresh `torch.randperm`
    drawn from one seeded generator on the device (epochs drawn in turn, so a later step,
    e.g. of a resumed run, replays the earlier epochs' draws)."""

    def __init__(self, rows: int, batch: int, seed: int, device: str | torch.device) -> None:
        if rows < batch:
            raise ValueError(f"{rows} training rows do not fill one batch of {batch}")
        self.rows, self.batch, self.per_epoch = rows, batch, rows // batch
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.device, self.epoch, self.order = device, -1, torch.empty(0)

    def __call__(self, step: int) -> torch.Tensor:
        epoch, index = divmod(step, self.per_epoch)
        if epoch < self.epoch:
            raise ValueError(f"step {step} is in epoch {epoch}, before the one already drawn ({self.epoch})")
        while self.epoch < epoch:
            self.order = torch.randperm(self.rows, device=self.device, generator=self.generator)
            self.epoch += 1
        return self.order[index * self.batch : (index + 1) * self.batch]


def problems(seed: int | str, count_per_level: int) -> list[Problem]:
    """Problems of `toy_sum` seed `seed`, levels in turn (`ToySumTask`'s mixed order); a string
    seed names a training-side set (e.g. `"1000001-prm"`)."""
    return [ToySumTask.problem(seed, 1 + i % 4, i // 4) for i in range(4 * count_per_level)]


@torch.no_grad()
def sample(
    model: torch.nn.Module, prompts: Sequence[str], n: int, temperature: float, seed: int, batch: int = 16384
) -> list[list[str]]:
    """n completions per prompt (temperature 0: greedy, n must be 1), decoded to text.

    Not the engine's `policies/hf` backend, which is built from a Hydra config and seeds a
    generator per request: the ladder draws whole solutions (no steps, ledger or search
    tree) for up to 16k left-padded prompts per `generate` call from one global seed, and
    the samples behind its model cards depend on exactly that seeding."""
    if temperature == 0.0 and n != 1:
        raise ValueError("greedy decoding gives one completion per prompt")
    device = next(model.parameters()).device
    flat = [p for p in prompts for _ in range(n)]
    texts: list[str] = []
    torch.manual_seed(seed)
    for start in range(0, len(flat), batch):
        chunk = [ids(p) for p in flat[start : start + batch]]
        width = max(len(c) for c in chunk)
        input_ids = torch.full((len(chunk), width), PAD, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, c in enumerate(chunk):  # left padding
            input_ids[row, width - len(c) :] = torch.tensor(c)
            mask[row, width - len(c) :] = 1
        kwargs = (
            {"do_sample": True, "temperature": temperature, "top_k": 0} if temperature > 0 else {"do_sample": False}
        )
        out = model.generate(
            input_ids=input_ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=MAX_NEW_TOKENS,
            pad_token_id=PAD,
            eos_token_id=EOS,
            **kwargs,
        )[:, width:].cpu()
        for row in out.tolist():
            text = []
            for token in row:
                if token in (EOS, PAD):
                    break
                text.append(INVERSE.get(token, ""))
            texts.append("".join(text))
    return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]


def label(problem: Problem, text: str) -> dict[str, Any]:
    steps = TASK.split_steps(text)
    answer = TASK.extract_answer(text)
    return {
        "steps": steps,
        "labels": TASK.process_labels(problem, steps) if steps else [],
        "answer": answer,
        "correct": answer is not None and TASK.is_correct(answer, problem.reference),
    }


def encode_prm(prompt: str, steps: Sequence[str]) -> tuple[list[int], list[int]]:
    """The toy PRM's input (`reward.adapter: toy`): prompt, each step and its newline tag;
    the score of a step is read at its tag. Equal to `ToyAdapter.encode` for the character
    tokenizer (tested), and much faster."""
    text, tags = prompt, []
    for step in steps:
        text += step.rstrip("\n")
        tags.append(len(text))
        text += STEP_TAG
    return ids(text), tags


@torch.no_grad()
def prm_scores(
    model: torch.nn.Module, items: Sequence[tuple[str, Sequence[str]]], batch: int = 4096
) -> list[list[float]]:
    """P(step correct) at every step tag of every (prompt, steps)."""
    device = next(model.parameters()).device
    encoded = [encode_prm(p, s) for p, s in items]
    out: list[list[float]] = [[] for _ in items]
    order = sorted(range(len(items)), key=lambda i: len(encoded[i][0]))
    for start in range(0, len(order), batch):
        chunk = [i for i in order[start : start + batch] if encoded[i][1]]
        if not chunk:
            continue
        width = max(len(encoded[i][0]) for i in chunk)
        input_ids = torch.full((len(chunk), width), PAD, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, i in enumerate(chunk):
            input_ids[row, : len(encoded[i][0])] = torch.tensor(encoded[i][0])
            mask[row, : len(encoded[i][0])] = 1
        logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits.float()
        probs = torch.softmax(logits, -1)[..., 1].cpu()
        for row, i in enumerate(chunk):
            out[i] = probs[row, encoded[i][1]].tolist()
    return out


# The ladder's shapes (shared by policy and PRM training).
POLICIES: dict[str, dict[str, Any]] = {
    "toy_sum_xs": {"hidden": 32, "layers": 2, "heads": 2, "mlp": 96, "lr": 3e-3},
    "toy_sum_s": {"hidden": 64, "layers": 3, "heads": 2, "mlp": 192, "lr": 2e-3},
    "toy_sum_m": {"hidden": 128, "layers": 4, "heads": 4, "mlp": 384, "lr": 1.5e-3},
}
PRMS: dict[str, str] = {"toy_sum_prm": "toy_sum_m", "toy_sum_prm_xs": "toy_sum_xs"}  # PRM -> its initialisation
SELECTION_SEED, TEST_SEED = 1, 0


def architecture(name: str, model_type: str = "llama") -> dict[str, Any]:
    p = POLICIES[name]
    return {
        "model_type": model_type,
        "hidden_size": p["hidden"],
        "num_hidden_layers": p["layers"],
        "num_attention_heads": p["heads"],
        "num_key_value_heads": p["heads"],
        "head_dim": p["hidden"] // p["heads"],
        "intermediate_size": p["mlp"],
        "max_position_embeddings": 512,
        "tie_word_embeddings": True,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "vocab_size": len(VOCAB),
        "pad_token_id": PAD,
        "bos_token_id": BOS,
        "eos_token_id": EOS,
    }
