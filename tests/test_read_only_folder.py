"""A run folder that cannot be written (issue 16): one line naming the folder (or the file in
it), exit 2, nothing lost, no traceback. Tests often run as root (CI containers), where
`chmod` does not stop writes; there the runs go through `setpriv`, which drops the two
capabilities that let root ignore file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH),
so the permission bits bind as they do for any user. Each test first proves that a write
into the read-only folder really fails under that identity."""

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tests.test_bad_input_files import one_line_error

pytestmark = pytest.mark.slow

_CAPS = "-dac_override,-dac_read_search"
AS_USER = () if os.geteuid() != 0 else ("setpriv", f"--bounding-set={_CAPS}", f"--inh-caps={_CAPS}")
RUN = ("strategy=best_of_n", "strategy.n=2", "progress=false")
READ_ONLY = stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH


def cannot_write(folder: Path) -> bool:
    """True when a process started like the run cannot create a file in `folder`."""
    probe = f"open({str(folder / 'probe')!r}, 'w')"
    done = subprocess.run([*AS_USER, sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    return done.returncode != 0 and "PermissionError" in done.stderr


def test_a_read_only_run_folder_stops_in_one_line_naming_it(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    folder.chmod(READ_ONLY)
    assert cannot_write(folder)
    done = run_cli(*RUN, "n_problems=3", f"hydra.run.dir={folder}", wrap=AS_USER)
    one_line_error(done, f"run folder {folder}: {folder} is not writable; choose another hydra.run.dir")
    done = run_cli(*RUN, "n_problems=3", f"hydra.run.dir={folder / 'below'}", wrap=AS_USER)
    one_line_error(done, f"run folder {folder / 'below'}: {folder} is not writable")


def test_a_read_only_results_file_stops_before_any_work_and_keeps_it(tmp_path):
    folder = tmp_path / "run"
    assert run_cli(*RUN, "n_problems=3", f"hydra.run.dir={folder}").returncode == 0
    results = folder / "results.jsonl"
    before = results.read_bytes()
    assert before.count(b"\n") == 3
    results.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    done = run_cli(*RUN, "n_problems=6", f"hydra.run.dir={folder}", wrap=AS_USER)
    one_line_error(done, f"run folder {folder} is not writable ({results}: Permission denied)")
    assert "to run) x strategy.n=" not in done.stderr  # stopped before the plan line: no work started
    assert results.read_bytes() == before


def test_the_store_refuses_a_read_only_folder_that_already_has_a_lock_file(tmp_path):
    """Past the command's own check (a library caller of `run`): the lock file opens, the
    owner file cannot be written; the run stops with the same line and releases the lock."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".infscale.lock").touch()
    (folder / ".infscale.lock").chmod(0o666)
    folder.chmod(READ_ONLY)
    assert cannot_write(folder)
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from tests.conftest import make_config
        from infscale.experiments.app.run import run
        try:
            run(make_config("strategy=best_of_n", "strategy.n=2", "n_problems=2"), Path({str(folder)!r}))
        except ValueError as error:
            print(error)
        """
    )
    done = subprocess.run(
        [*AS_USER, sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    owner = folder / ".infscale.owner.json.tmp"
    assert done.stdout.strip() == (
        f"run folder {folder} is not writable ({owner}: Permission denied); make it writable or choose "
        "another hydra.run.dir (finished problems on disk are kept)"
    )
    assert sorted(p.name for p in folder.iterdir()) == [".infscale.lock"]
