"""The `infscale-run` command. Signals are honoured from the first moment: until the run's own
handlers take over (experiments/run.py), SIGINT or SIGTERM ends the process at once with one
line (nothing has been written yet), never with a traceback from the middle of an import."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def _before_the_run(signum: int, frame: Any) -> None:
    sys.stderr.write(f"infscale-run: interrupted by {signal.Signals(signum).name} while starting; nothing written\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def main() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _before_the_run)
    from infscale.experiments.run import main as run_main

    run_main()
