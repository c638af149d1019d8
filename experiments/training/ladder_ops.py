"""The pieces `experiments/training/ladder.py` is built from: training sequences of `toy_sum`,
the toy PRM's input encoding, batched sampling on one device, checker labels and the
sampling / voting / PRM metrics.

Only torch, numpy, transformers and the task are imported (no Hydra or OmegaConf), so the
ladder runs on a bare GPU machine from a copy of the source tree.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from infscale.tasks.base import Problem
from infscale.tasks.toy_arith import TRAIN_SEED_BASE
from infscale.tasks.toy_sum import SUM_LEVELS, ToySumTask, draw_sum, format_sum_prompt, random_path
from infscale.tasks.toy_tokenizer import CHARACTERS, SPECIAL_TOKENS

VOCAB = {token: i for i, token in enumerate(SPECIAL_TOKENS + CHARACTERS)}
PAD, BOS, EOS = VOCAB["<pad>"], VOCAB["<s>"], VOCAB["</s>"]
INVERSE = {i: token for token, i in VOCAB.items()}
IGNORE_INDEX = -100
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


def problems(seed: int | str, count_per_level: int) -> list[Problem]:
    """Problems of `toy_sum` seed `seed`, levels in turn (`ToySumTask`'s mixed order); a string
    seed names a training-side set (e.g. `"1000001-prm"`)."""
    return [ToySumTask.problem(seed, 1 + i % 4, i // 4) for i in range(4 * count_per_level)]


@torch.no_grad()
def sample(
    model: torch.nn.Module, prompts: Sequence[str], n: int, temperature: float, seed: int, batch: int = 16384
) -> list[list[str]]:
    """n completions per prompt (temperature 0: greedy, n must be 1), decoded to text."""
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


def vote(answers: Sequence[str | None], weights: Sequence[float] | None = None) -> str | None:
    """The answer with the largest total weight (1 each: majority); ties go to the answer seen
    first; solutions without an answer do not vote."""
    totals: dict[str, float] = {}
    for k, answer in enumerate(answers):
        if answer is not None:
            key = str(int(answer))
            totals[key] = totals.get(key, 0.0) + (1.0 if weights is None else weights[k])
    return max(totals, key=lambda a: totals[a]) if totals else None  # dicts keep first-seen order on ties


def selection_curves(
    records: Sequence[Sequence[dict[str, Any]]], refs: Sequence[str], ns: Sequence[int], scores: Any = None
) -> dict[str, dict[int, float]]:
    """Accuracy of majority (and, given per-record step `scores`, PRM-weighted voting and PRM
    best-of-N, a solution worth its lowest step score) on the first n samples of each
    problem, averaged over the disjoint groups of n samples the problem has."""
    curves: dict[str, dict[int, float]] = {"majority": {}, "weighted": {}, "best": {}}
    for n in ns:
        hits: dict[str, list[float]] = {"majority": [], "weighted": [], "best": []}
        for p, (rows, ref) in enumerate(zip(records, refs)):
            groups = range(0, len(rows) - n + 1, n)
            for kind in hits:
                if kind != "majority" and scores is None:
                    continue
                right = 0
                for g in groups:
                    answers = [r["answer"] for r in rows[g : g + n]]
                    if kind == "majority":
                        pick = vote(answers)
                    else:
                        worth = [min(s) if s else 0.0 for s in scores[p][g : g + n]]
                        if kind == "weighted":
                            pick = vote(answers, worth)
                        else:
                            pick = answers[max(range(n), key=lambda k: (worth[k], -k))]
                    right += pick is not None and str(int(pick)) == ref
                hits[kind].append(right / len(groups))
        for kind, values in hits.items():
            if values:
                curves[kind][n] = float(np.mean(values))
    return {k: v for k, v in curves.items() if v}


def policy_summary(greedy: Sequence[dict[str, Any]], records: Sequence[Sequence[dict[str, Any]]], refs: Sequence[str]):
    """Greedy, one-sample (mean over all samples) and majority@16 accuracy."""
    one = float(np.mean([np.mean([r["correct"] for r in rows]) for rows in records]))
    majority = selection_curves(records, refs, [16])["majority"][16] if len(records[0]) >= 16 else None
    return {"greedy": float(np.mean([g["correct"] for g in greedy])), "one_sample": one, "majority@16": majority}


def answer_entropy(records: Sequence[Sequence[dict[str, Any]]]) -> float:
    """Mean number of distinct answers among a problem's samples (how much errors scatter)."""
    return float(np.mean([len(Counter(r["answer"] for r in rows)) for rows in records]))


# The ladder's shapes and schedule (shared by policy and PRM training).
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


def lr_at(peak: float, step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
