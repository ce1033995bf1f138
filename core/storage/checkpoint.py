"""Checkpoints of a SQLite file's write-ahead log on a thread and a connection of their own.

In WAL mode a commit appends pages to the log; a checkpoint copies them into the database file,
with two fsyncs (the log, then the file). SQLite's own checkpoint runs inside the commit that
takes the log past ``wal_autocheckpoint`` pages, on the connection that committed: for the
repository one commit in about 125 (orders placed one at a time) paid it on the writer's thread
while the order waited; for the paper venue's file, on the event loop. A ``Checkpointer`` takes
that work off them: whoever commits calls ``committed``, and the checkpointer's thread runs a
``PASSIVE`` checkpoint, which copies what the log holds without waiting for the writer nor
making it wait. Not after every commit: each checkpoint flushes the disk twice, and the commits'
own flushes queue behind them (one-at-a-time writes on a disk other programs were writing to,
against SQLite's own checkpoints: p50 0.63 -> 0.87 ms, p90 3.3 -> 5.2 ms). At most one every
``interval`` seconds, about as often as SQLite's own for orders placed one at a time (0.64 ms,
3.4 ms in the same run); it also covers the last commits before a pause.

Once a checkpoint has copied the whole log, the writer's next transaction starts the log again
from its beginning, so the log stays short, unless that transaction began while the checkpoint
ran: under a steady stream of commits the log would only grow. So after each checkpoint that
copied everything, a ``RESTART`` starts the log again. It takes the writer's lock (only if free:
it never waits for it) and holds it while it copies what was committed since the last copy:
two fsyncs the writer would wait for, then sleep at least a millisecond in SQLite's busy
handler. So the restart comes only after a passive checkpoint that found nothing new to copy
(one run at once after the first, usually with nothing to do and no fsync): it then holds the
lock for microseconds. The connection's own autocheckpoint stays on as a backstop
(``BACKSTOP_PAGES``), for a log this thread cannot keep up with.

A checkpoint only moves committed pages from the log into the file: what a crash keeps is the
same with or without it (a page not yet copied is read from the log, and a copy cut short by a
crash is done again from the log at the next opening).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL = 0.1  # seconds from one checkpoint to the next, at the least
CATCH_UP = 3  # passive checkpoints in a row, at the most, to copy what came during the one before
BACKSTOP_PAGES = 10_000  # wal_autocheckpoint of a connection whose log a Checkpointer keeps short


class Checkpointer:
    """Checkpoints ``path``'s log on its own thread (started at the first wake-up); see the
    module docstring. ``committed`` is called by the one thread that commits; ``close`` ends
    the thread, before the writer's connection closes.

    The connection is opened here, next to the writer's, and only then handed to the thread:
    opened later it could reach another file put at the same path meanwhile (``identity.py``).
    Raises ``sqlite3.Error`` when the file cannot be opened."""

    def __init__(self, path: Path, *, interval: float = INTERVAL, name: str = "checkpoint") -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
        self._interval = interval
        self._name = name
        self._wake = threading.Condition()
        self._due = 0  # commits no checkpoint has started on yet; under _wake
        self._busy = False  # a checkpoint is running, or the pause after it; under _wake
        self._waiting = False  # the thread waits for a commit; under _wake
        self._closing = False
        self._thread: threading.Thread | None = None
        self.checkpoints = 0  # for the tests and the benchmarks
        self.restarts = 0

    def committed(self) -> None:
        """A transaction was committed: the log has grown."""
        with self._wake:
            if self._closing:
                return
            self._due += 1
            if self._waiting:  # not during the pause after a checkpoint: no wake-up a commit
                self._wake.notify()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"{self._name} {self.path.name}", daemon=True)
            self._thread.start()

    def wait_idle(self) -> None:
        """Return once a checkpoint has run after every commit so far (for tests and tools:
        the order path never waits for a checkpoint)."""
        with self._wake:
            self._wake.wait_for(lambda: not (self._due or self._busy) or self._thread is None or self._closing)

    def close(self) -> None:
        """End the thread after the checkpoint under way, if any (whoever closes the database
        last checkpoints what is left); later calls do nothing."""
        with self._wake:
            self._closing = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join()
        self._db.close()

    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()
                    self._waiting = True
                    self._wake.wait_for(lambda: self._due > 0 or self._closing)
                    self._waiting = False
                    if self._closing:
                        return
                    self._due = 0
                    self._busy = True
                try:
                    self._checkpoint()
                except sqlite3.Error as exc:  # the log stays whole: the next checkpoint tries again
                    log.warning("%s: checkpoint of the write-ahead log failed: %s", self.path, exc)
                with self._wake:
                    self._wake.wait_for(lambda: self._closing, self._interval)
        finally:
            with self._wake:
                self._busy = False
                self._wake.notify_all()

    def _checkpoint(self) -> None:
        """Copy the log into the file, again while commits came during the copy, then start
        the log again if nothing new came (see the module docstring)."""
        seen = -1
        for _ in range(CATCH_UP):
            busy, frames, copied = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
            if busy or copied < frames:  # a reader still needs part of the log: no restart now
                return
            if frames == seen:
                if not self._db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]:
                    self.restarts += 1
                return
            seen = frames
