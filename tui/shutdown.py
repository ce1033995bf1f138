"""SIGINT and SIGTERM stop `opentrade trade` cleanly at any moment, the start-up included.

Python's defaults do not: SIGTERM kills the process where it stands (no engine stop, no last
writes, the terminal left in raw mode), and a SIGINT while asyncio starts the app cancelled the
start-up half-way. ``StopSignals`` catches both from the first line of the command: before the
app's loop runs, a signal is only recorded (nothing is open yet); once the app is mounted, it
asks the app to stop, which closes the engine and the database like ctrl+q does. The process
then exits with 128 + the signal's number, as a shell reports a process ended by a signal:
130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    return 128 + signum


class StopSignals:
    """A context manager around the command; ``attach`` from inside the app's running loop."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}
        self._stop: Callable[[int], None] | None = None

    def __enter__(self) -> StopSignals:
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._record)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum

    def attach(self, stop: Callable[[int], None]) -> None:
        """Deliver signals to ``stop`` in the loop from now on (the loop's own handlers, so
        ``stop`` runs as a normal callback), and at once a signal received before."""
        loop = asyncio.get_running_loop()
        self._stop = stop
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._deliver, sig)
        if self.received is not None:
            stop(self.received)

    def _deliver(self, signum: int) -> None:
        if self.received is None:
            self.received = signum
        assert self._stop is not None
        self._stop(signum)
