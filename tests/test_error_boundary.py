"""Issue 28: every `infscale-*` command ends a known failure with ONE line on stderr naming the
input and exit status 2 (experiments/app/errors.py); a bug keeps its traceback; a multirun
with failed jobs closes with one line counting them (experiments/app/job_outcomes.py)."""

import json
import shutil
import subprocess
import sys

import pytest
from hydra.errors import ConfigCompositionException

from infscale.experiments.analysis import collect
from infscale.experiments.app import errors, preflight
from infscale.experiments.app.build import load_config
from infscale.experiments.app.resolvers import package_path
from infscale.experiments.app.run import run
from tests.conftest import BIN, REPO, make_config, run_cli

TOY = ("task=toy_arith", "policy=toy_small", "strategy=best_of_n_majority", "strategy.n=2", "n_problems=1")


def only_line(done: subprocess.CompletedProcess) -> str:
    """The one stderr line of a command that stopped on bad input."""
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    return lines[0]


def corrupt_checkpoint(tmp_path):
    folder = tmp_path / "toy_small"
    shutil.copytree(package_path("tasks/toy_checkpoints/toy_small"), folder)
    (folder / "config.json").write_text('{"vocab_size": 40,,')
    return folder


# --- model folders: one check for policy.path and reward.path ---------------------------------


@pytest.mark.parametrize("key", ["policy.path", "reward.path", "reward.tokenizer"])
def test_a_corrupt_config_json_is_named_with_its_key(tmp_path, key):
    folder = corrupt_checkpoint(tmp_path)
    with pytest.raises(ValueError) as error:
        preflight.check_model_path(key, str(folder))
    assert str(error.value) == (
        f"{key}={folder}: {folder / 'config.json'} is not valid JSON "
        "(Expecting property name enclosed in double quotes: line 1 column 19 (char 18))"
    )


@pytest.mark.parametrize("key", ["policy.path", "reward.path"])
@pytest.mark.parametrize("where", ["/no/such/model", "./no/such", "~/no/such/infscale", "a/b/c"])
def test_a_model_path_pointing_nowhere_is_one_line(key, where):
    with pytest.raises(ValueError, match=f"^{key}={where}: no such file or folder$"):
        preflight.check_model_path(key, where)


def test_a_hub_id_is_left_to_the_backend():
    preflight.check_model_path("reward.path", "Qwen/Qwen2.5-Math-PRM-7B")


@pytest.mark.slow
def test_cli_corrupt_checkpoint_and_missing_reward_path_are_one_line(tmp_path):
    folder = corrupt_checkpoint(tmp_path)
    done = run_cli(*TOY, "reward=none", f"policy.path={folder}", f"hydra.run.dir={tmp_path / 'a'}")
    assert only_line(done).startswith(
        f"infscale-run: error: policy.path={folder}: {folder / 'config.json'} is not valid JSON (Expecting"
    )  # before: an 83-line traceback from transformers
    done = run_cli(*TOY, "reward=toy_prm", f"reward.path={tmp_path / 'nowhere'}", f"hydra.run.dir={tmp_path / 'b'}")
    assert only_line(done) == f"infscale-run: error: reward.path={tmp_path / 'nowhere'}: no such file or folder"
    assert "error: reward.path=" in (tmp_path / "b" / "run.log").read_text()  # infscale-collect reads it there


# --- unknown keys and options: the closest known one ------------------------------------------


@pytest.mark.parametrize(
    "override, expected",
    [
        ("strategy.nn=4", "strategy.nn=4: no such key strategy.nn; did you mean strategy.n?"),
        ("strategyy=rebase", "strategyy=rebase: no such key strategyy; did you mean strategy?"),
        ("engine.max_concurent=8", "no such key engine.max_concurent; did you mean engine.max_concurrent?"),
        ("zzz=1", "zzz=1: no such key zzz (a new key"),
    ],
)
def test_an_unknown_key_names_the_closest_key(monkeypatch, override, expected):
    monkeypatch.setattr(sys, "argv", ["infscale-run", "strategy=rebase", override])
    with pytest.raises(ConfigCompositionException) as error:
        load_config("strategy=rebase", override)
    line = errors.one_line(error.value)
    assert expected in line and "\n" not in line


def test_an_added_key_the_class_does_not_take_names_the_closest_option(tmp_path):
    with pytest.raises(ValueError, match=r"^strategy 'beam' has no option\(s\) beam_widht; did you mean beam_width\?$"):
        run(make_config("strategy=beam", "+strategy.beam_widht=4", "n_problems=1"), tmp_path)


def test_the_closest_key_comes_from_the_chosen_options(monkeypatch):
    """strategy=beam composes beam's keys: a misspelt beam_width finds beam_width."""
    monkeypatch.setattr(sys, "argv", ["infscale-run", "strategy=beam", "strategy.beam_widht=4"])
    with pytest.raises(ConfigCompositionException) as error:
        load_config("strategy=beam", "strategy.beam_widht=4")
    assert "did you mean strategy.beam_width?" in errors.one_line(error.value)


@pytest.mark.slow
@pytest.mark.parametrize(
    "override, expected",
    [
        (
            "strategy.nn=4",
            "infscale-run: error: strategy.nn=4: no such key strategy.nn; did you mean strategy.n? "
            "(a new key is added with +strategy.nn=...)",
        ),
        ("strategyy=rebase", "infscale-run: error: strategyy=rebase: no such key strategyy; did you mean strategy?"),
        ("strategy=rebse", "infscale-run: error: strategy=rebse: no such strategy (known: adaptive, beam, "),
    ],
)
def test_cli_unknown_key_or_option_is_one_line(tmp_path, override, expected):
    line = only_line(run_cli("n_problems=2", override, f"hydra.run.dir={tmp_path}"))
    assert line.startswith(expected)  # before: Hydra's 6 lines (17 for an unknown option)
    if override == "strategy=rebse":
        assert line.endswith("; did you mean rebase?")


# --- the boundary itself -----------------------------------------------------------------------


def test_known_failures_exit_2_with_one_line_and_bugs_keep_their_traceback(capsys):
    @errors.command("infscale-x")
    def bad_input():
        raise FileNotFoundError(2, "No such file or directory", "/data/q.jsonl")

    @errors.command("infscale-x")
    def bug():
        return {}["missing"]

    with pytest.raises(SystemExit) as exit_info:
        bad_input()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "infscale-x: error: [Errno 2] No such file or directory: '/data/q.jsonl'\n"
    with pytest.raises(KeyError):
        bug()


@pytest.mark.slow
def test_a_bug_still_shows_a_traceback():
    """An unexpected exception is not dressed up as bad input: Python's traceback, status 1."""
    code = "from infscale.experiments.app import errors\nerrors.command('infscale-x')(lambda: 1 / 0)()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" in done.stderr and "ZeroDivisionError" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "command, args, expected",
    [
        ("infscale-collect", ["{missing}"], "infscale-collect: error: no such sweep folder: {missing}"),
        ("infscale-analyze", ["{missing}"], "infscale-analyze: error: {missing}/collected.json does not exist"),
        ("infscale-plot", ["{missing}"], "infscale-plot: error: {missing}/collected.json does not exist"),
        ("infscale-report", ["{missing}"], "infscale-report: error: no such sweep folder: {missing}"),
        (
            "infscale-headline",
            ["{missing}"],
            "infscale-headline: error: {missing}/compute_optimal_flops_paper.csv does not exist",
        ),
        ("infscale-demo", ["--experiment", "bogus", "--dir", "{tmp}"], "infscale-demo: error: --experiment bogus:"),
        (
            "infscale-prm-eval",
            ["data.path={missing}.jsonl", "hydra.run.dir={tmp}/pe"],
            "infscale-prm-eval: error: data.path {missing}.jsonl does not exist",
        ),
    ],
)
def test_every_command_reports_bad_input_in_one_line(tmp_path, command, args, expected):
    names = {"missing": tmp_path / "missing", "tmp": tmp_path}
    argv = [str(BIN / command), *(a.format(**names) for a in args)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert only_line(done).startswith(expected.format(**names))


# --- a multirun with a failed job ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_a_multirun_with_a_bad_job_closes_with_one_line_and_keeps_the_others(tmp_path, launcher):
    chosen = [] if launcher == "basic" else ["hydra/launcher=infscale_joblib"]
    done = run_cli(
        "-m", "strategy=best_of_n", "strategy.n=2,-3,4,8", "n_problems=2", "progress=false", *chosen,
        f"hydra.sweep.dir={tmp_path}", timeout=300,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "infscale-run: error: 3 of 4 jobs finished; job #1 (strategy.n=-3) failed: "
        "strategy.n must be a positive integer, got -3"
    )
    finished = sorted(p.parent.name for p in tmp_path.rglob("summary.json"))
    assert [name.split("strategy.n=")[1].split(",")[0] for name in finished] == ["2", "4", "8"]


# --- infscale-collect: running, corrupt ------------------------------------------------------------


@pytest.fixture
def two_jobs(tmp_path):
    for name, n in (("a", 2), ("b", 4)):
        run(make_config("strategy=best_of_n", f"strategy.n={n}", "n_problems=5"), tmp_path / name)
    return tmp_path


def test_a_corrupt_middle_line_is_named_with_its_file(two_jobs):
    results = two_jobs / "b" / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    lines[2] = lines[2][:30] + "\n"
    results.write_text("".join(lines))
    (two_jobs / "b" / "summary.json").unlink()
    messages = collect.collect(two_jobs).messages
    assert messages == [
        f"b: corrupt line 3 of {results}; delete that line and rerun the job to recompute its problem"
    ]  # before: "b: unfinished (5 problems in results.jsonl, no summary.json): no error in run.log..."


def test_a_corrupt_line_of_a_finished_job_is_named_too(two_jobs):
    results = two_jobs / "b" / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    lines[1] = "{not json\n"
    results.write_text("".join(lines))
    assert collect.collect(two_jobs).messages == [
        f"b: corrupt line 2 of {results}; delete that line and rerun the job to recompute its problem"
    ]


@pytest.mark.slow
def test_a_job_still_running_is_called_running_with_its_pid_and_host(two_jobs):
    (two_jobs / "b" / "summary.json").unlink()
    code = (
        "import sys, time\nfrom infscale.experiments.app.store import RunStore\n"
        "store = RunStore(sys.argv[1])\nstore.lock()\nprint('held', flush=True)\ntime.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(two_jobs / "b")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        owner = json.loads((two_jobs / "b" / ".infscale.owner.json").read_text())
        messages = collect.collect(two_jobs).messages
    finally:
        holder.kill()
        holder.wait()
    assert messages == [
        f"b: running (pid {holder.pid} on {owner['host']}, since {owner['since']}); collect again when it has finished"
    ]  # before: "unfinished ...: no error in run.log, so it was killed (SIGKILL, ...)"
    assert "unfinished" in collect.collect(two_jobs).messages[0]  # once it has gone, it is what it is
