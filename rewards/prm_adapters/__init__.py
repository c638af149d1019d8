"""PRM input formats and score read-outs, selected by `reward.adapter` (never guessed from
a model path)."""

from __future__ import annotations

from infscale.rewards.prm_adapters.base import Encoding, PRMAdapter
from infscale.rewards.prm_adapters.math_shepherd import MathShepherdAdapter
from infscale.rewards.prm_adapters.qwen import QwenAdapter
from infscale.rewards.prm_adapters.rlhflow import RLHFlowAdapter
from infscale.rewards.prm_adapters.skywork import SkyworkAdapter
from infscale.rewards.prm_adapters.toy import ToyAdapter

ADAPTERS: dict[str, type[PRMAdapter]] = {
    cls.name: cls for cls in (QwenAdapter, ToyAdapter, MathShepherdAdapter, RLHFlowAdapter, SkyworkAdapter)
}


def adapter_class(name: str | None) -> type[PRMAdapter]:
    if name not in ADAPTERS:
        raise ValueError(f"unknown reward.adapter {name!r} (known: {', '.join(sorted(ADAPTERS))})")
    return ADAPTERS[name]


__all__ = ["ADAPTERS", "Encoding", "PRMAdapter", "adapter_class"]
