"""infscale-report on a small simulated sweep with saved trees: the HTML is self-contained and,
opened in headless Chromium (the distribution's package, /usr/bin/chromium), loads without
console errors, shows names holding markup as text (escaped once, by the template), and draws
the known run's tree with the right number of nodes and chosen path. A screenshot of the tree
viewer is kept in tests/artefacts/ (not a golden image: to look at)."""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from infscale.experiments.analysis import report, trees
from infscale.experiments.app.run import run
from tests.conftest import make_config

pytestmark = pytest.mark.slow
ARTEFACTS = Path(__file__).with_name("artefacts")


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is missing: `apt-get install -y chromium` (make install-browser)")
    return found


def _browse(page: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            *flags,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _console_errors(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "ERROR" in line)]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    for policy in ("simulated", "sim_large"):
        for strategy, widths in (("best_of_n", [16]), ("rebase", [4, 8])):
            for n in widths:
                extra = ["save_trees=true"] if (policy, strategy, n) == ("simulated", "rebase", 4) else []
                cfg = make_config(
                    f"policy={policy}", f"strategy={strategy}", f"strategy.n={n}", "n_problems=20", *extra
                )
                run(cfg, root / f"{policy}-{strategy}-{n}")
    return root


def test_report_is_one_offline_file_with_tables_figures_and_tree_links(sweep):
    out = report.build(sweep, draws=200, fit_draws=20)
    text = out.read_text()
    assert out == sweep / "report.html"
    assert not re.search(r"""(src|href)=["']https?://""", text)  # nothing fetched from the network
    assert text.count("data:image/png;base64,") >= 6  # Pareto x2, error x2, size x2, levels x2
    headings = ("Against the strongest baseline", "Compute to reach the strongest", "Compute-optimal configuration")
    for heading in (*headings, "Scaling fits", "Provenance"):
        assert heading in text
    assert "search configurations beat the strongest baseline at no more compute" in text
    assert "95% CI" in text and "simulated-rebase-4/trees.html" in text
    done = _browse(out, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Sweep report" in done.stdout and _console_errors(done) == []


class _Elements(HTMLParser):
    """A page's elements in order, each (tag, attributes, the text up to the next tag), decoded."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None], str]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs), ""))

    def handle_data(self, data: str) -> None:
        if self.found:
            tag, attrs, text = self.found[-1]
            self.found[-1] = (tag, attrs, text + data)


HOSTILE = '<script>alert(1)</script>&"'
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#34;"


def test_names_holding_markup_are_escaped_once_and_shown_as_text(sweep, tmp_path):
    # A job is named by its folder path under the sweep, so a folder `<script>alert(1)<` holding a
    # run folder `script>&"` makes the job HOSTILE; the sweep's own name goes into title and h1.
    root = tmp_path / 'sweep <b>&"'
    for run_dir in sorted(p for p in sweep.iterdir() if (p / "summary.json").exists()):
        job = HOSTILE if run_dir.name == "simulated-rebase-4" else run_dir.name
        shutil.copytree(run_dir, root / job, ignore=shutil.ignore_patterns("trees.html"))
    text = report.build(root, draws=50, fit_draws=5).read_text()
    assert HOSTILE not in text and "<b>" not in text
    assert not re.search(r"&amp;(amp|lt|gt|#34|quot);", text), "something was escaped twice"
    assert text.count(f"<td>{ESCAPED}</td>") == 1  # the job column of the provenance table
    assert text.count(f'<a href="{ESCAPED}/trees.html">script&gt;&amp;&#34;</a>') == 1
    assert text.count("Sweep report: sweep &lt;b&gt;&amp;&#34;<") == 2  # title and h1

    done = _browse(root / "report.html", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert _console_errors(done) == []
    elements = [(tag, attrs, text.strip()) for tag, attrs, text in _Elements(done.stdout).found]
    assert not {"script", "b"} & {tag for tag, _, _ in elements}
    assert [text for tag, _, text in elements if tag == "td"].count(HOSTILE) == 1
    assert ("a", {"href": f"{HOSTILE}/trees.html"}, 'script>&"') in elements
    assert [text for tag, _, text in elements if tag in ("title", "h1")] == ['Sweep report: sweep <b>&"'] * 2


def test_tree_viewer_draws_the_known_run_in_chromium(sweep):
    run_dir = sweep / "simulated-rebase-4"
    page = trees.write_tree_page(run_dir)
    first = json.loads((run_dir / "results.jsonl").read_text().splitlines()[0])
    saved = json.loads((run_dir / "trees" / f"{first['problem_id']}.json").read_text())
    data = trees.tree_data(run_dir)[0]
    assert data["problem_id"] == first["problem_id"] and data["chosen"] is not None
    parent = {e["target"]: e["source"] for e in saved["edges"]}
    path, node = [], data["chosen"]
    while node is not None:
        path.append(node)
        node = parent.get(node)
    done = _browse(page, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert _console_errors(done) == []
    assert re.search(r'id="console-errors"[^>]*data-count="0"', dom), "the page recorded errors"
    drawn = re.findall(r'class="node ([a-z -]+)"[^>]*data-node="(\d+)"', dom)
    assert len(drawn) == len(saved["nodes"]) and len(saved["nodes"]) > 4
    on_path = sorted(int(i) for kind, i in drawn if "on-path" in kind)
    assert on_path == sorted(path)
    assert [int(i) for kind, i in drawn if kind.endswith("chosen")] == [data["chosen"]]
    assert dom.count('class="edge chosen"') == len(path) - 1
    ARTEFACTS.mkdir(exist_ok=True)
    shot = ARTEFACTS / "tree_viewer.png"
    done = _browse(page, f"--screenshot={shot}", "--window-size=1300,800")
    assert done.returncode == 0 and shot.stat().st_size > 10_000
