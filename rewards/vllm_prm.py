"""`reward=vllm_prm`: a process reward model run by vLLM's pooling runner.

The input format is the one `reward=hf_prm` builds: the same `reward.adapter`
(`rewards/prm_adapters/`) renders (question, steps), tokenizes it and finds one read
position per step, and vLLM receives those token ids as they are (no re-tokenization, so a
step tag such as the toy PRM's newline cannot be lost). vLLM runs token-level
classification (`pooling_task="token_classify"`, all positions) over every trajectory of
every problem in one `encode` call, and the score of a step is read at its position:

- `qwen`, `toy` (`Qwen2ForProcessRewardModel`, a two-class head): softmax, P(class 1);
- `math_shepherd`, `rlhflow` (causal LMs read by their `+`/`-` logits): the checkpoint is
  loaded as a sequence classifier built from those two rows of the LM head
  (`method: from_2_way_softmax`), whose sigmoid is exactly softmax over the two logits.

`skywork` (a value head vLLM has no class for) is refused with a clear error.

Incremental scoring (`reward.incremental`, prefix-stable adapters) reads vLLM's prefix cache
(`enable_prefix_caching: true`, `PoolingParams(skip_reading_prefix_cache=False)`): a path
whose first blocks were run before (its parent's path) is computed from the first uncached
block on, vLLM returns rows for those positions only and reports `num_cached_tokens`, which
is what the ledger charges. A request whose first new tag falls inside the cached blocks
(a duplicate path) is run again without reading the cache, and charged for both passes.
"""

from __future__ import annotations

from typing import Any

from infscale.budgets.model_spec import ModelSpec
from infscale.rewards.hf_prm import checkpoint_hash
from infscale.rewards.prm_adapters import Encoding, adapter_class
from infscale.rewards.prm_adapters.plus_minus import PlusMinusAdapter
from infscale.rewards.prm_cost import ReadsLikePRMInput, check_incremental
from infscale.search.backends import RewardModel, ScoreRequest, ScoreResult
from infscale.search.batching import LARGE
from infscale.search.vllm_engine_args import CONFIG_KEYS, ENGINE_KEYS, _plain, engine_kwargs, require_vllm

_OWN_KEYS = {"name", "adapter", "incremental", "max_length", "batch_size", "device", *CONFIG_KEYS, *ENGINE_KEYS}
_NATIVE = {"qwen", "toy"}


class VLLMPRM(ReadsLikePRMInput, RewardModel):
    outcome = False
    preferred_batch = LARGE  # engine.max_batch: auto (search/batching.py)

    def __init__(self, task: Any = None, **options: Any) -> None:
        cfg = _plain(options)
        name = cfg.get("adapter")
        kind = adapter_class(name)
        if name not in _NATIVE and not issubclass(kind, PlusMinusAdapter):
            raise ValueError(f"reward.adapter {name!r} has no vLLM pooling model: use reward=hf_prm for it")
        self.incremental = check_incremental(cfg.get("incremental"), kind)
        kwargs = engine_kwargs(cfg)
        require_vllm()
        from transformers import AutoConfig, AutoTokenizer
        from vllm import LLM
        from vllm.config import PoolerConfig

        path = str(cfg["path"])
        trust = bool(cfg.get("trust_remote_code"))
        options = {k: v for k, v in cfg.items() if k not in _OWN_KEYS}
        self.adapter = kind(AutoTokenizer.from_pretrained(cfg.get("tokenizer") or path), options)
        hf_config = AutoConfig.from_pretrained(path, trust_remote_code=trust)
        if isinstance(self.adapter, PlusMinusAdapter):
            kwargs["hf_overrides"] = {**dict(kwargs.get("hf_overrides") or {}), **self._two_token_classifier(hf_config)}
        kwargs.setdefault("enable_prefix_caching", bool(cfg["enable_prefix_caching"]))
        self.llm = LLM(
            runner="pooling", pooler_config=PoolerConfig(task="token_classify", tok_pooling_type="ALL"), **kwargs
        )
        self.name = str(cfg["name"])
        self.task = task
        self.spec = ModelSpec.from_config(hf_config)
        model_len = int(self.llm.llm_engine.model_config.max_model_len)
        self.max_length = min(int(cfg.get("max_length") or model_len), model_len)
        self.checkpoint_hash = checkpoint_hash(path)
        self._encodings: dict[ScoreRequest, Encoding] = {}

    def _two_token_classifier(self, hf_config: Any) -> dict[str, Any]:
        """hf_overrides that read a causal LM as P(good) = sigmoid(logit_good - logit_bad)."""
        architectures = list(getattr(hf_config, "architectures", None) or [])
        if not architectures or not architectures[0].endswith("ForCausalLM"):
            raise ValueError(f"PRM adapter '{self.adapter.name}' needs a *ForCausalLM checkpoint, got {architectures}")
        good, bad = self.adapter.candidates()
        # vLLM's from_2_way_softmax scores sigmoid(logit[tokens[1]] - logit[tokens[0]]).
        tokens = self.adapter.tokenizer.convert_ids_to_tokens([bad, good])
        return {
            "architectures": [architectures[0].replace("ForCausalLM", "ForSequenceClassification")],
            "classifier_from_token": tokens,
            "method": "from_2_way_softmax",
        }

    def score(self, requests: list[ScoreRequest]) -> list[ScoreResult]:
        encodings = self.encode_checked(requests)
        todo = [i for i, e in enumerate(encodings) if e.positions]
        results = [ScoreResult([], 0, 0) for _ in requests]
        first = self._pool([encodings[i] for i in todo], [requests[i].known for i in todo], self.incremental)
        again = [k for k, (values, _, _) in enumerate(first) if values is None]
        second = self._pool([encodings[todo[k]] for k in again], [requests[todo[k]].known for k in again], False)
        for k, (values, computed, _) in zip(again, second):
            # The first pass ran (after its cached prefix) for nothing it could use: both are
            # charged, the attention term at the later positions (a slight overestimate).
            first[k] = (values, first[k][1] + computed, first[k][2])
        for i, (values, computed, cached) in zip(todo, first):
            results[i] = ScoreResult(values, computed, cached)
        return results

    def _pool(
        self, encodings: list[Encoding], known: list[int], read_cache: bool
    ) -> list[tuple[list[float] | None, int, int]]:
        """One `encode` call: (scores of the new steps, tokens computed, tokens cached) per
        encoding; scores None where a position to read was served from the prefix cache."""
        if not encodings:
            return []
        from vllm import PoolingParams
        from vllm.inputs import TokensPrompt

        outputs = self.llm.encode(
            [TokensPrompt(prompt_token_ids=list(e.ids)) for e in encodings],
            pooling_task="token_classify",
            pooling_params=PoolingParams(skip_reading_prefix_cache=not read_cache),
            use_tqdm=False,
        )
        results: list[tuple[list[float] | None, int, int]] = []
        for encoding, k, output in zip(encodings, known, outputs):
            data = output.outputs.data.float()
            cached = int(getattr(output, "num_cached_tokens", None) or 0)
            if data.shape[0] != len(encoding.ids) - cached:
                raise RuntimeError(
                    f"vLLM pooled {data.shape[0]} positions for a PRM input of {len(encoding.ids)} tokens "
                    f"({cached} cached)"
                )
            positions = [p - cached for p in encoding.positions[k:]]
            if positions[0] < 0:
                results.append((None, len(encoding.ids) - cached, cached))
                continue
            results.append((step_scores(data, positions), len(encoding.ids) - cached, cached))
        return results


def step_scores(rows: Any, positions: list[int]) -> list[float]:
    """The scores read from token-level classification `rows` (one row per position, a
    tensor) at `positions`: P(class 1) of a two-class head, else the single value."""
    picked = rows[positions]
    values = picked[:, 1] if picked.dim() == 2 and picked.shape[1] == 2 else picked.reshape(len(positions))
    return values.tolist()
