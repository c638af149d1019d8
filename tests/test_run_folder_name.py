"""The run folder carries the policy's effective name (issue 16): a policy whose `name` is left
to its default (the model or checkpoint's last path part) never yields `None-...`."""

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from infscale.experiments.app import resolvers


def composed(*overrides: str, hydra: bool = True):
    resolvers.register()
    with initialize_config_module(config_module="infscale.conf", version_base=None):
        return compose(
            config_name="config", overrides=["task=toy_arith", "reward=none", *overrides], return_hydra_config=hydra
        )


def run_dir(*overrides: str) -> tuple[str, str]:
    """(hydra.run.dir, policy.name) as `infscale-run` resolves them."""
    cfg = composed(*overrides)
    return OmegaConf.select(cfg, "hydra.run.dir"), cfg.policy.name


@pytest.mark.parametrize(
    "overrides, name",
    [
        (("policy=openai", "policy.model=Qwen/Qwen2.5-Math-7B"), "Qwen2.5-Math-7B"),
        (("policy=openai", "policy.model=toy_small", "policy.name=mine"), "mine"),
        (("policy=hf", "policy.path=/models/ckpt-7b/"), "ckpt-7b"),
        (("policy=vllm", "policy.path=Qwen/Qwen2.5-Math-1.5B-Instruct"), "Qwen2.5-Math-1.5B-Instruct"),
        (("policy=toy_small",), "toy_small"),
    ],
)
def test_the_run_folder_starts_with_the_effective_policy_name(overrides, name):
    folder, policy_name = run_dir(*overrides)
    assert policy_name == name
    assert folder.startswith(f"outputs/toy_arith/{name}-none-rebase-n16-"), folder
    assert len(folder.rsplit("-", 1)[1]) == 8  # the run id


def test_an_unset_model_leaves_the_name_unset_for_the_one_line_error():
    """Composing must not fail on `policy.model=???`: the run's check names the key afterwards."""
    cfg = composed("policy=openai", hydra=False)
    assert sorted(OmegaConf.missing_keys(cfg)) == ["policy.model"]
    assert cfg.policy.name is None
