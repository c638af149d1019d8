"""The one error boundary of every `infscale-*` command.

A known failure (bad input: a value the config cannot run, a missing or corrupt file, an
unknown key, a backend that failed for good) ends the command with ONE line on stderr,
`<command>: error: <what, naming the input>`, and exit status 2. Anything else is a bug and
keeps its traceback. `HYDRA_FULL_ERROR=1` set by the user shows the traceback of known
failures too.

Hydra catches a task's exceptions and prints them itself (a dozen lines, or a traceback);
`command` has it re-raise them instead (it sets HYDRA_FULL_ERROR while the command runs), so
that they reach this boundary. A Hydra job's own failure is stopped earlier, in the job
callback (experiments/app/job_outcomes.py), with `fail`.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from infscale.experiments.app.suggest import closest

EXIT_BAD_INPUT = 2
_Main = TypeVar("_Main", bound=Callable[..., Any])


def known() -> tuple[type[BaseException], ...]:
    """The failures that are bad input. ValueError covers json.JSONDecodeError and
    UnicodeDecodeError; OSError a file that is missing, unreadable or not what a library
    expected (transformers names the file). Imported here, not at the top: `infscale-run`
    imports this module before its signal handlers are in place."""
    from hydra.errors import CompactHydraException

    from infscale.search.backends import BackendError

    return (ValueError, OSError, BackendError, CompactHydraException)


def is_known(error: BaseException) -> bool:
    return isinstance(error, known())


_running: dict[str, Any] = {"prog": "infscale", "tracebacks": False}  # set by `command`


def tracebacks() -> bool:
    """Whether the user set HYDRA_FULL_ERROR=1: known failures then show their traceback too."""
    return bool(_running["tracebacks"])


def fail(line: str) -> NoReturn:
    """End the command with its one error line and exit status 2. A SystemExit, which Hydra's
    handlers let through: a Hydra job callback uses it to stop a single run before Hydra adds
    a line of its own ("Error executing job with overrides")."""
    sys.stderr.write(f"{_running['prog']}: error: {line}\n")
    sys.stderr.flush()
    raise SystemExit(EXIT_BAD_INPUT)


def one_line(error: BaseException) -> str:
    """The error as one line: Hydra's composition errors rewritten (an unknown key with the
    closest known one), anything else with its lines joined; a bug also names its type."""
    from hydra.errors import CompactHydraException
    from omegaconf.errors import OmegaConfBaseException

    cause = error.__cause__
    if isinstance(error, CompactHydraException) and isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", None)
        if key and "not in struct" in str(cause):
            return unknown_key(key, sys.argv[1:])
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return text if is_known(error) and text else f"{error.__class__.__name__}: {text}".rstrip(": ")


def unknown_key(key: str, argv: list[str]) -> str:
    """`strategyy=rebase`: no such key, with the closest key of the config these command-line
    arguments compose (difflib), e.g. strategy."""
    given = next((a for a in argv if a.lstrip("+~").partition("=")[0] == key), key)
    choices = [
        a for a in argv if a != given and "=" in a and not a.startswith(("-", "+", "~")) and "." not in a.split("=")[0]
    ]
    return f"{given}: no such key {key}{closest(key, config_keys(choices))} (a new key is added with +{key}=...)"


def config_keys(overrides: list[str]) -> list[str]:
    """Every dotted key of the run config these group choices (`strategy=beam`) compose."""
    from omegaconf import OmegaConf

    from infscale.experiments.app.build import load_config

    try:
        config = OmegaConf.to_container(load_config(*overrides), resolve=False)
    except Exception:  # another bad argument: the default config's keys, else no suggestion
        return config_keys([]) if overrides else []
    keys: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for name, value in node.items():
            keys.append(prefix + str(name))
            if isinstance(value, dict):
                walk(value, f"{prefix}{name}.")

    walk(config, "")
    return keys


def command(prog: str, explain: Callable[[BaseException], str | None] | None = None) -> Callable[[_Main], _Main]:
    """Decorate a command's `main`: known failures become one line and exit status 2.
    `explain` may put the failure in context, one line (infscale-run: a multirun's failed jobs);
    a bug's traceback then follows that line."""

    def decorate(main: _Main) -> _Main:
        @functools.wraps(main)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            asked = os.environ.get("HYDRA_FULL_ERROR")
            _running.update(prog=prog, tracebacks=asked == "1")
            os.environ["HYDRA_FULL_ERROR"] = "1"
            try:
                return main(*args, **kwargs)
            except Exception as error:
                line = explain(error) if explain is not None else None
                if is_known(error) and not tracebacks():
                    fail(line or one_line(error))
                if line:
                    sys.stderr.write(f"{prog}: error: {line}\n")
                raise
            finally:  # a command called in-process (tests, the demo) leaves the variable as it was
                if asked is None:
                    os.environ.pop("HYDRA_FULL_ERROR", None)
                else:
                    os.environ["HYDRA_FULL_ERROR"] = asked

        return guarded  # type: ignore[return-value]

    return decorate
