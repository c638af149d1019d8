"""Log filtering for `infscale-run` jobs (conf/hydra/job_logging/infscale.yaml)."""

from __future__ import annotations

import logging


class NotFileOnly(logging.Filter):
    """Keeps records logged with `extra={"file_only": True}` off the console: lines already
    printed on stdout that the job's log file should hold too."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "file_only", False)
