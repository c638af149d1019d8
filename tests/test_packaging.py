"""infscale installs as one package, `infscale` (beside it only its Hydra launcher plugin in the
`hydra_plugins` namespace), and a strategy plugs in as one file + one YAML."""

import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO, read_results


def fresh_venv(tmp_path: Path) -> tuple[Path, Path]:
    """A new venv whose dependencies come from the test environment (not infscale itself)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = [p for p in site.getsitepackages() if "site-packages" in p]
    Path(purelib, "deps.pth").write_text("\n".join(deps) + "\n")
    return venv, Path(purelib)


@pytest.mark.slow
def test_wheel_holds_infscale_and_its_launcher_and_lives_beside_an_unrelated_tasks_package(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(tmp_path / "wheel")],
        check=True,
        timeout=300,
    )
    wheel = next((tmp_path / "wheel").glob("infscale-*.whl"))
    top = {name.split("/", 1)[0] for name in zipfile.ZipFile(wheel).namelist()}
    dist_info = wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"
    assert top == {"infscale", "hydra_plugins", dist_info}
    plugins = {name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("hydra_plugins/")}
    assert {p.rsplit("/", 1)[0] for p in plugins} == {"hydra_plugins/infscale_ray_launcher"}

    venv, purelib = fresh_venv(tmp_path)
    (purelib / "tasks").mkdir()
    (purelib / "tasks" / "__init__.py").write_text('WHO = "an unrelated package named tasks"\n')
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    result = subprocess.run(
        [venv / "bin" / "infscale-run", "n_problems=3", "strategy=beam", "progress=false"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "over 3 problems" in result.stdout
    summaries = list(workdir.glob("outputs/toy_sum/*/summary.json"))  # the default world, models from the wheel
    assert len(summaries) == 1
    here = tmp_path / "editable"
    here.mkdir()
    args = ["n_problems=3", "strategy=beam", "progress=false"]
    subprocess.run([BIN / "infscale-run", *args], cwd=here, capture_output=True, check=True, timeout=600)
    editable = [p.parent.name for p in here.glob("outputs/toy_sum/*/summary.json")]
    assert editable == [summaries[0].parent.name], "the run id must not depend on where infscale is installed"
    assert (here / "outputs/toy_sum" / editable[0] / "run_config.json").read_text() == (
        summaries[0].parent / "run_config.json"
    ).read_text()
    probe = "import tasks, infscale.conf, infscale.tasks; print(tasks.WHO); print(infscale.conf.__file__)"
    who, conf = subprocess.run(
        [python, "-c", probe], cwd=workdir, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert who == "an unrelated package named tasks"
    assert conf.startswith(str(purelib / "infscale")), "the configs must come from the installed package"


def pip_lines_from_this_machine(line: str) -> bool:
    """pip's own notes about this machine's pip configuration (an index folder it skips)."""
    return line.startswith("WARNING: Location '") and "is ignored" in line


@pytest.mark.slow
def test_an_editable_install_prints_no_warning(tmp_path):
    """`pip install -e .` printed setuptools' "Editable installation ... folders in your working
    directory" warning (its finder strategy for a flat layout): package-dir "" = "." selects the
    .pth strategy, which has none. `--ignore-installed`: without it pip uninstalls the checkout's
    own editable install from the running venv before installing into the prefix."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--ignore-installed",
            "-e",
            str(REPO),
            "--prefix",
            str(tmp_path / "prefix"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert [line for line in lines if "warn" in line.lower() and not pip_lines_from_this_machine(line)] == []


FIRST_STEP = '''
"""A plugin strategy: N first steps, scored; the best one's path is finished greedily."""

from dataclasses import dataclass

from infscale.search.ops import Expand, Score
from infscale.search.strategy import Run, Strategy


@dataclass
class BestFirstStep(Strategy):
    finish_temperature: float

    def run(self, root) -> Run:
        steps = yield Expand([root], n=self.n)
        yield Score(steps)
        best = self.ranked(steps)[0]
        if not best.terminal:
            best = (yield Expand([best], n=1, until="end", temperature=self.finish_temperature))[0]
        return self.decide([best])
'''

FIRST_STEP_YAML = """
defaults:
  - /base/strategy@_here_
  - _self_
_target_: my_strategies.best_first_step.BestFirstStep
name: best_first_step
n: 4
selector: majority
finish_temperature: 0.0
"""


@pytest.mark.slow
def test_a_strategy_is_one_python_file_and_one_yaml(tmp_path):
    package = tmp_path / "plugins" / "my_strategies"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "best_first_step.py").write_text(textwrap.dedent(FIRST_STEP))
    configs = tmp_path / "plugin_conf" / "strategy"
    configs.mkdir(parents=True)
    (configs / "best_first_step.yaml").write_text(textwrap.dedent(FIRST_STEP_YAML))
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [
            str(BIN / "infscale-run"),
            "task=simulated",
            "policy=simulated",
            "reward=simulated",
            "strategy=best_first_step",
            "strategy.n=6",
            "n_problems=5",
            "progress=false",
            f"hydra.searchpath=[file://{tmp_path / 'plugin_conf'}]",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "plugins"), "PATH": str(BIN)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    records = read_results(run_dir)
    assert [r["strategy"] for r in records] == ["best_first_step"] * 5
    assert all(r["tokens"]["generated"] > 0 and r["n_finished"] == 1 for r in records)
