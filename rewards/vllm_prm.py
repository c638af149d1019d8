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
"""

from __future__ import annotations

from typing import Any

from infscale.budgets.model_spec import ModelSpec
from infscale.rewards.hf_prm import HFPRM, checkpoint_hash
from infscale.rewards.prm_adapters import Encoding, adapter_class
from infscale.rewards.prm_adapters.plus_minus import PlusMinusAdapter
from infscale.search.backends import ScoreRequest
from infscale.search.vllm_engine_args import CONFIG_KEYS, ENGINE_KEYS, _plain, engine_kwargs, require_vllm

_OWN_KEYS = {"name", "adapter", "max_length", "batch_size", "device", *CONFIG_KEYS, *ENGINE_KEYS}
_NATIVE = {"qwen", "toy"}


class VLLMPRM:
    outcome = False

    def __init__(self, task: Any = None, **options: Any) -> None:
        cfg = _plain(options)
        name = cfg.get("adapter")
        kind = adapter_class(name)
        if name not in _NATIVE and not issubclass(kind, PlusMinusAdapter):
            raise ValueError(f"reward.adapter {name!r} has no vLLM pooling model: use reward=hf_prm for it")
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

    # The same inputs as reward=hf_prm, encoded (and cached) the same way.
    question = HFPRM.question
    encode = HFPRM.encode
    count_tokens = HFPRM.count_tokens

    def score(self, requests: list[ScoreRequest]) -> list[list[float]]:
        from vllm.inputs import TokensPrompt

        encodings = [self.encode(r) for r in requests]
        todo = [i for i, e in enumerate(encodings) if e.positions]
        scores: list[list[float]] = [[] for _ in requests]
        if not todo:
            return scores
        outputs = self.llm.encode(
            [TokensPrompt(prompt_token_ids=list(encodings[i].ids)) for i in todo],
            pooling_task="token_classify",
            use_tqdm=False,
        )
        for i, output in zip(todo, outputs):
            data = output.outputs.data.float()
            positions = list(encodings[i].positions)
            if data.shape[0] != len(encodings[i].ids):
                raise RuntimeError(
                    f"vLLM pooled {data.shape[0]} positions for a PRM input of {len(encodings[i].ids)} tokens"
                )
            picked = data[positions]
            values = picked[:, 1] if picked.dim() == 2 and picked.shape[1] == 2 else picked.reshape(len(positions))
            scores[i] = values.tolist()
        return scores
