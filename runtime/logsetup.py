"""Logging for the command line: console for headless runs, a file for the full-screen app.

Every handler gets the redacting filter, so a secret can not reach a log line.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from core.filemodes import private_dir, private_file
from core.redact import install_log_redaction

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str = "INFO", *, console: bool = True, logfile: Path | None = None) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(stream)
    if logfile is not None:
        private_dir(logfile.parent)
        handler = logging.FileHandler(private_file(logfile), encoding="utf-8")
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    install_log_redaction()
