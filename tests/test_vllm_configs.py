"""The GPU presets compose as `infscale-run -m +experiment=...` will launch them: every policy
of the sweep with its PRM, tensor parallel size, GPU share and dtype as config keys, and the
policy's and the PRM's GPU shares fitting one GPU together."""

import subprocess

import pytest
import yaml

from tests.conftest import BIN, REPO

pytestmark = pytest.mark.vllm
PRESETS = {
    "vllm_wu_math500": ("vllm_llemma_7b", "vllm_llemma_34b", "vllm_mistral_7b"),
    "vllm_qwen_math500": ("vllm_qwen25_math_1p5b", "vllm_qwen25_math_7b"),
}


def job_config(*overrides):
    """The composed job config, exactly as the CLI builds it (no test defaults added)."""
    done = subprocess.run(
        [str(BIN / "infscale-run"), "--cfg", "job", "--resolve", *overrides],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return yaml.safe_load(done.stdout)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_gpu_presets_compose_for_every_policy_of_their_sweep(preset):
    for policy in PRESETS[preset]:
        cfg = job_config(f"+experiment={preset}", f"policy={policy}")
        assert cfg["task"]["name"] == "math500"
        assert cfg["policy"]["_target_"] == "infscale.policies.vllm.VLLMPolicy"
        assert cfg["reward"]["_target_"] == "infscale.rewards.vllm_prm.VLLMPRM"
        assert cfg["policy"]["dtype"] == cfg["reward"]["dtype"] == "bfloat16"
        assert cfg["policy"]["tensor_parallel_size"] >= 1 and cfg["policy"]["enable_prefix_caching"] is True
        assert cfg["policy"]["gpu_memory_utilization"] + cfg["reward"]["gpu_memory_utilization"] <= 0.95
        assert "/" in cfg["policy"]["path"] and "/" in cfg["reward"]["path"]


def test_toy_vllm_configs_point_at_the_shipped_checkpoints():
    cfg = job_config("policy=vllm_toy_small", "reward=vllm_toy_prm")
    assert cfg["policy"]["path"].endswith("tasks/toy_checkpoints/toy_small")
    assert cfg["reward"]["path"].endswith("tasks/toy_checkpoints/toy_prm") and cfg["reward"]["adapter"] == "toy"
    assert cfg["policy"]["block_size"] % 32 == 0  # the CPU attention kernel's block granularity
