"""Per-problem caps on samples, generated tokens and FLOPs, never crossed.

The engine asks `affordable` before issuing an operation, with the operation's worst case
(every sample running to its token limit, every prompt token computed), and charges the
ledger with what actually happened afterwards; so the ledger can never pass a cap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from infscale.budgets.ledger import Ledger


@dataclass(frozen=True)
class Budget:
    max_samples: int | None
    max_tokens: int | None
    max_flops: float | None

    def __post_init__(self) -> None:
        for key in ("max_samples", "max_tokens", "max_flops"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"budget.{key} must be a positive number, got {value!r}")

    @property
    def capped(self) -> bool:
        """Whether any cap is set (else nothing needs checking before an operation)."""
        return self.max_samples is not None or self.max_tokens is not None or self.max_flops is not None

    @classmethod
    def unlimited(cls) -> Budget:
        """No cap at all (what `budget=none` configures)."""
        return cls(max_samples=None, max_tokens=None, max_flops=None)

    def affordable_samples(
        self, ledger: Ledger, wanted: int, tokens_each: int, flops_fixed: float | None, flops_each: float | None
    ) -> int:
        """How many of `wanted` samples fit, each costing at most `tokens_each` tokens and
        `flops_each` FLOPs, after a one-off `flops_fixed` (the prompt's prefill)."""
        fit = wanted
        if self.max_samples is not None:
            fit = min(fit, self.max_samples - ledger.samples)
        if self.max_tokens is not None:
            if ledger.generated is None:
                raise ValueError("budget.max_tokens needs token counts, and this policy reports none")
            fit = min(fit, (self.max_tokens - ledger.generated) // max(tokens_each, 1))
        if self.max_flops is not None:
            spent = ledger.flops_total
            if spent is None or flops_fixed is None or flops_each is None:
                raise ValueError("budget.max_flops needs FLOP counts, and this backend reports none")
            room = self.max_flops - spent - flops_fixed
            fit = min(fit, math.floor(room / flops_each) if flops_each > 0 else fit) if room >= 0 else 0
        return max(fit, 0)

    def affords_flops(self, ledger: Ledger, flops: float | None) -> bool:
        if self.max_flops is None:
            return True
        spent = ledger.flops_total
        if spent is None or flops is None:
            raise ValueError("budget.max_flops needs FLOP counts, and this backend reports none")
        return spent + flops <= self.max_flops

    def to_dict(self) -> dict[str, Any]:
        return {"max_samples": self.max_samples, "max_tokens": self.max_tokens, "max_flops": self.max_flops}
