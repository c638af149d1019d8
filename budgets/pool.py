"""A data-set budget: one pool of FLOPs and/or generated tokens for a whole run.

The per-problem `Budget` caps each problem's ledger; the `Pool` caps the sum over all
problems. The engine reserves a call's worst case (every sample running to its token limit,
every prompt token computed) from the pool while the call is in flight and settles the
reservation with what the ledger was actually charged when it returns, releasing the rest,
so `spent + reserved` never passes the total, whatever the allocator asks for, and the pool
can be spent to within one sample's worst case. An operation the remainder cannot cover is
cut or refused; the run goes on. Per-problem ledgers are unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class Reservation:
    flops: float
    tokens: int


@dataclass
class Pool:
    total_flops: float | None
    total_tokens: int | None
    spent_flops: float = 0.0
    spent_tokens: int = 0
    reserved_flops: float = 0.0
    reserved_tokens: int = 0

    def __post_init__(self) -> None:
        for key in ("total_flops", "total_tokens"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"budget.{key} must be a positive number or null, got {value!r}")
        if self.total_flops is None and self.total_tokens is None:
            raise ValueError("a data-set pool needs budget.total_flops or budget.total_tokens")

    @property
    def left_flops(self) -> float | None:
        return None if self.total_flops is None else self.total_flops - self.spent_flops - self.reserved_flops

    @property
    def left_tokens(self) -> int | None:
        return None if self.total_tokens is None else self.total_tokens - self.spent_tokens - self.reserved_tokens

    def affordable(self, wanted: int, tokens_each: int, flops_fixed: float | None, flops_each: float | None) -> int:
        """How many of `wanted` samples (worst case `tokens_each` tokens and `flops_each`
        FLOPs each, after a one-off `flops_fixed`) fit in what is neither spent nor reserved."""
        fit = wanted
        if self.total_tokens is not None:
            fit = min(fit, self.left_tokens // max(tokens_each, 1))
        if self.total_flops is not None:
            if flops_fixed is None or flops_each is None:
                raise ValueError("budget.total_flops needs FLOP counts, and this backend reports none")
            room = self.left_flops - flops_fixed
            fit = min(fit, math.floor(room / flops_each) if flops_each > 0 else fit) if room >= 0 else 0
        return max(fit, 0)

    def reserve(self, flops: float | None, tokens: int) -> Reservation | None:
        """Reserve a worst case; None (nothing reserved) if it does not fit."""
        if self.total_flops is not None and flops is None:
            raise ValueError("budget.total_flops needs FLOP counts, and this backend reports none")
        flops = flops or 0.0
        if self.total_flops is not None and flops > self.left_flops:
            return None
        if self.total_tokens is not None and tokens > self.left_tokens:
            return None
        self.reserved_flops += flops
        self.reserved_tokens += tokens
        return Reservation(flops, tokens)

    def settle(self, reservation: Reservation, flops: float | None, tokens: int | None) -> None:
        """Release `reservation` and charge what was actually spent (never more than it)."""
        flops, tokens = flops or 0.0, tokens or 0
        if flops > reservation.flops * (1 + 1e-9) + 1e-6 or tokens > reservation.tokens:
            raise ValueError(
                f"a backend charged {flops:.6g} FLOPs / {tokens} tokens, over the worst case reserved "
                f"({reservation.flops:.6g} / {reservation.tokens}): its token counts are inconsistent"
            )
        self.reserved_flops -= reservation.flops
        self.reserved_tokens -= reservation.tokens
        self.spent_flops += min(flops, reservation.flops)
        self.spent_tokens += tokens

    def charge(self, flops: float | None, tokens: int | None) -> None:
        """Count compute already spent (a resumed run's finished work)."""
        self.spent_flops += flops or 0.0
        self.spent_tokens += tokens or 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_flops": self.total_flops,
            "total_tokens": self.total_tokens,
            "spent_flops": self.spent_flops,
            "spent_tokens": self.spent_tokens,
            "left_flops": self.left_flops,
            "left_tokens": self.left_tokens,
        }
