"""A non-editable `pip install .` finds its configs and runs from any folder."""

import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_installed_wheel_runs_outside_the_checkout(tmp_path):
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", str(REPO), "--no-deps", "-q", "-w", str(tmp_path / "wheel")], check=True, timeout=300
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # the dependencies come from the test environment; infscale itself from the wheel
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    wheel = next((tmp_path / "wheel").glob("infscale-*.whl"))
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    result = subprocess.run(
        [venv / "bin" / "infscale-run", "n_problems=3", "strategy=beam", "progress=false"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "over 3 problems" in result.stdout
    summaries = list(workdir.glob("outputs/toy_arith/*/summary.json"))  # the default world, its models from the wheel
    assert len(summaries) == 1
    found = subprocess.run(
        [python, "-c", "import conf; print(conf.__file__)"], cwd=workdir, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found.startswith(str(venv)), "the configs must come from the installed package"
