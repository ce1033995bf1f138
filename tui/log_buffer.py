"""A logging handler that keeps the last records in memory for the Log screen."""

from __future__ import annotations

import logging
from collections import deque

from core.redact import RedactingFilter

MAX_RECORDS = 1000


class LogBuffer(logging.Handler):
    """Its own redacting filter: it is attached after start-up, so the one the command line
    installed on the other handlers does not cover it, and what it keeps is shown on screen."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.addFilter(RedactingFilter())
        self.records: deque[logging.LogRecord] = deque(maxlen=MAX_RECORDS)
        self.version = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.version += 1
