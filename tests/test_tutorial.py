"""docs/tutorial.md's code, run from the page: the plugin strategy's file and YAML are
written where the page says, built from that YAML and run on the simulated world; the
Python snippet runs as written. (Its shell commands: tests/test_doc_commands.py.)"""

from __future__ import annotations

import contextlib
import io
import re

import pytest
import yaml

from infscale.experiments.app.build import instantiate
from tests.doc_blocks import REPO, blocks, write_files
from tests.engine_helpers import simulated_engine

PAGE = "docs/tutorial.md"


@pytest.mark.slow
def test_the_plugin_strategy_loads_from_its_yaml_and_runs(tmp_path, monkeypatch):
    written = write_files(PAGE, tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "my_plugins/my_strategies/my_adaptive.py",
        "my_conf/strategy/my_adaptive.yaml",
    ]
    monkeypatch.syspath_prepend(str(tmp_path / "my_plugins"))
    own = yaml.safe_load(written[1].read_text())
    assert own.pop("defaults") == ["/base/strategy@_here_", "_self_"]
    config = {**yaml.safe_load((REPO / "conf/base/strategy.yaml").read_text()), **own}
    engine = simulated_engine()
    task = engine.task
    strategy = instantiate("strategy", {**config, "n": 16}, task=task)
    assert type(strategy).__name__ == "MyAdaptiveConsistency"
    outcomes = list(engine.run(task.problems()[:10], strategy))
    samples = [o.ledger.samples for o in outcomes]
    assert all(s % 4 == 0 and 4 <= s <= 16 for s in samples) and min(samples) == 4  # rounds of batch=4
    assert sum(samples) < 16 * 10  # it stopped early somewhere
    right = sum(task.is_correct(o.decision.answer, o.problem.reference) for o in outcomes)
    assert right >= 5


@pytest.mark.slow
def test_the_python_snippet_runs_as_written():
    (snippet,) = [b.text for b in blocks(PAGE) if b.lang == "python" and b.path is None]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet, f"{PAGE} snippet", "exec"), {})
    right = re.fullmatch(r"(\d+) of 10 right\n", printed.getvalue())
    assert right is not None and int(right.group(1)) >= 5
