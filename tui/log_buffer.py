"""A logging handler that keeps the last records in memory for the Log screen."""

from __future__ import annotations

import logging
from collections import deque

MAX_RECORDS = 1000


class LogBuffer(logging.Handler):
    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.records: deque[logging.LogRecord] = deque(maxlen=MAX_RECORDS)
        self.version = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.version += 1
