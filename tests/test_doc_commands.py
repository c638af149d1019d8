"""Every shell command in README.md's and docs/tutorial.md's code blocks, run as a reader
would: in one scratch folder, page by page in page order (a command finds what an earlier
one made: the sweep before its analysis, the tutorial's files before its run), each
expected to exit 0.

A few are run smaller, with one override appended (`SMALLER`: whole sweeps), and a few are
not run, each for the reason given (`SKIPPED`); a fast test holds both lists to the pages.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infscale.tasks.data import data_dir
from tests.doc_blocks import commands, write_files

PAGES = ("README.md", "docs/tutorial.md")
VENV = Path(sys.executable).parents[1]

SMALLER = {
    "infscale-run -m +experiment=pareto_toy_sum": "n_problems=2",  # 24 jobs of real models
    "infscale-run -m +experiment=pareto_sim": "n_problems=10",  # 84 jobs
    "infscale-run -m +experiment=pareto_sim strategy=adaptive strategy.n=4,8,16,32,64": "n_problems=10",
    "python -m infscale.experiments.studies.toy_processbench --out outputs/toy_processbench": "--problems 20",
}
# `make demo` is run as its Makefile recipe (the venv is this test's), in the scratch folder
# and on a few problems: every step of the demo, not its size (a fast test holds the recipe to
# the Makefile's).
MAKE_DEMO = "{python} -m infscale.experiments.studies.demo --experiment {preset} --n-problems 2"
RECIPES = {
    "make demo": MAKE_DEMO.format(python=".venv/bin/python", preset="pareto_toy_sum"),
    "make demo DEMO=pareto_toy": MAKE_DEMO.format(python=".venv/bin/python", preset="pareto_toy"),
    "make demo DEMO=pareto_sim": MAKE_DEMO.format(python=".venv/bin/python", preset="pareto_sim"),
    # the two sweeps on 2 problems (nothing written into docs/ or the pages at that size)
    "make figures": ".venv/bin/python -m infscale.experiments.studies.figures --n-problems 2 --only grid sim",
}
LESSONS_SMALL = (
    "--pool-problems 8 --samples 2 --k 2 --train-steps 6 --train-batch 4 --heldout-problems 16 "
    "--heldout-samples 2 --bon-problems 8 --bon-n 4 --seeds 0 --threads 1 --root lessons --docs lessons/docs"
)
SMALLER["python -m infscale.experiments.studies.prm_lessons"] = LESSONS_SMALL  # hours at full size
SKIPPED = {
    "make test": "the test suite itself, this test included",
    "infscale-prm-eval data.path=FILE reward=replay tau=0.5": "FILE stands for the reader's file with step_scores",
    "infscale-prm-eval data.path=DIR reward=toy_prm tau=fit fit_split=toy_arith-L1": "DIR stands for the reader's set",
    "make .venv-vllm": "builds vLLM's CPU build in its own venv (a network install)",
    ".venv-vllm/bin/infscale-run task=toy_arith policy=vllm_toy_small reward=vllm_toy_prm strategy=rebase "
    "strategy.n=8 n_problems=20": "needs vLLM (the venv `make .venv-vllm` builds)",
}
NEEDS_DATA = {
    "infscale-run task=math_cot_100 policy=replay reward=replay strategy=best_of_n strategy.n=8 "
    "strategy.selector=majority": "math_cot_100/math_cot_100.jsonl",
}
CASES = [(page, k, command) for page in PAGES for k, command in enumerate(commands(page))]


def test_the_lists_name_commands_the_pages_have():
    found = {command for _, _, command in CASES}
    assert set(SMALLER) | set(SKIPPED) | set(NEEDS_DATA) | set(RECIPES) <= found
    assert not set(SMALLER) & set(SKIPPED) and not set(RECIPES) & set(SKIPPED)


def test_make_demo_runs_the_recipe_of_the_makefile():
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    recipe = MAKE_DEMO.format(python="$(BIN)/python", preset="$(DEMO)").removesuffix(" --n-problems 2")
    assert f"demo: $(STAMP)\n\t{recipe}\n" in makefile
    figures = RECIPES["make figures"].replace(".venv/bin", "$(BIN)").split(" --n-problems")[0]
    assert f"figures: $(STAMP)\n\t{figures}\n" in makefile


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """The reader's folder: `.venv` is this test's environment (the README's `.venv/bin/...`)."""
    folder = tmp_path_factory.mktemp("reader")
    (folder / ".venv").symlink_to(VENV)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("page,k,command", CASES, ids=[f"{p}:{k}" for p, k, _ in CASES])
def test_the_command_runs(page, k, command, scratch):
    if command in SKIPPED:
        pytest.skip(reason=SKIPPED[command])
    if command in NEEDS_DATA and not (data_dir() / NEEDS_DATA[command]).exists():
        pytest.skip(reason=f"needs {NEEDS_DATA[command]} in the data folder ({data_dir()})")
    if page == "docs/tutorial.md":
        write_files(page, scratch)  # the files the page tells the reader to write
    line = RECIPES.get(command, command)
    line = f"{line} {SMALLER[command]}" if command in SMALLER else line
    env = {**os.environ, "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}", "HYDRA_FULL_ERROR": "0"}
    done = subprocess.run(["bash", "-c", line], cwd=scratch, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"{page}: {line}\n{done.stderr[-3000:]}"
    if command == "make demo":  # its preset saves trees: the report links a tree viewer for every job
        root = scratch / "multirun/pareto_toy_sum"
        links = re.findall(r'<a href="([^"]+/trees\.html)">', (root / "report.html").read_text())
        assert len(links) == len(list(root.rglob("summary.json"))) == 30
        assert all((root / link).exists() for link in links)
