"""The audit chain's head kept outside the database, so that cutting entries off the end or
rewriting the chain with fresh hashes shows.

Inside the database the chain proves only that it is self-consistent: whoever deletes the last
entries together with the ``audit_head`` row, or recomputes every hash after an edit, is left
with a chain that verifies. The anchor is a small file in the home holding the last committed
entry's number and hash, rewritten after every commit; a copy of it kept elsewhere (the daily
notification carries its text) checks a database the same way. An anchor behind the chain is
normal (a crash between a commit and the anchor's rewrite); an anchor ahead of the chain means
entries were removed, and an anchor whose entry has another hash means the log was rewritten.

The file is replaced atomically (a temporary file renamed over it) in a thread of its own, so
the order path never waits for it, and at most once every ``ANCHOR_INTERVAL`` seconds: the heads
committed meanwhile are coalesced, and the file always ends up with the newest one (a clean
close writes it at once). A rewrite per commit cost an order placed alone a third of its CPU
(a hand-off to the thread, a file created and renamed, a wake-up of the loop), while an anchor
a tenth of a second behind the chain is what a crash can leave anyway.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from core.storage.errors import StorageError

log = logging.getLogger(__name__)

ANCHOR_NAME = "audit-anchor"
BACKUP_ANCHOR_SUFFIX = ".audit-anchor"
ANCHOR_INTERVAL = 0.1  # seconds from one rewrite to the next, at the least


@dataclass(frozen=True, slots=True)
class Anchor:
    """An audit entry's number and hash, and where they were read from (for messages)."""

    seq: int
    hash: str
    source: str = "the anchor"


def anchor_text(seq: int, digest: str) -> str:
    """The anchor file's one line: JSON, so a copy pasted from a notification reads back."""
    return json.dumps({"seq": seq, "hash": digest}) + "\n"


def read_anchor(path: Path) -> Anchor | None:
    """The anchor in ``path``; None if there is no such file (a new home, or a database from
    before anchors). A file that cannot be read as an anchor raises StorageError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"the audit anchor {path} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
        seq, digest = data["seq"], data["hash"]
        valid = isinstance(seq, int) and seq >= 0 and isinstance(digest, str) and len(digest) == 64
    except (ValueError, TypeError, KeyError):
        valid = False
    if not valid:
        raise StorageError(
            f"the audit anchor {path} is not an anchor (expected a line like "
            f'{{"seq": 12, "hash": "<64 hex digits>"}}); if the database is known to be good, delete the '
            "file and OpenTrade writes it again"
        )
    return Anchor(seq, digest, str(path))


def write_anchor(path: Path, seq: int, digest: str) -> None:
    """Replace ``path`` atomically, readable by its owner only."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, anchor_text(seq, digest).encode("ascii"))
    finally:
        os.close(fd)
    os.replace(temporary, path)


class AnchorWriter:
    """Rewrites the anchor after commits, off the event loop and off the database's thread.

    ``update`` is called on the event loop with each committed head; one rewrite runs at a
    time, none sooner than ``interval`` seconds after the previous one began, and the newest
    head wanted is written next. A failure goes to ``on_failure`` (a disk that cannot take a
    hundred bytes will not take the next commit either)."""

    def __init__(self, path: Path, on_failure: Callable[[StorageError], None], interval: float = ANCHOR_INTERVAL) -> None:
        self.path = path
        self._on_failure = on_failure
        self._interval = interval
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-anchor")
        self._wanted: tuple[int, str] | None = None
        self._running: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_start = -math.inf
        self._closing = False
        self._idle = asyncio.Event()
        self._idle.set()

    def update(self, head: tuple[int, str]) -> None:
        if head == self._wanted:  # a commit without audit entries (a candle, a setting)
            return
        self._wanted = head
        self._idle.clear()
        if self._running is None and self._timer is None:
            self._schedule()

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._last_start + self._interval - loop.time()
        if wait <= 0 or self._closing:
            self._start()
        else:
            self._timer = loop.call_later(wait, self._start)

    def _start(self) -> None:
        self._timer = None
        head = self._wanted
        assert head is not None
        loop = asyncio.get_running_loop()
        self._last_start = loop.time()
        self._running = loop.run_in_executor(self._executor, write_anchor, self.path, *head)
        self._running.add_done_callback(lambda done: self._written(head, done))

    def _written(self, head: tuple[int, str], done: asyncio.Future[None]) -> None:
        self._running = None
        error = None if done.cancelled() else done.exception()
        if error is not None:
            self._on_failure(StorageError(f"the audit anchor {self.path} could not be written: {error}"))
        if self._wanted != head and self._wanted is not None:
            self._schedule()
        else:
            self._idle.set()

    async def close(self) -> None:
        """Write the newest head now (or wait for the rewrite under way, which is followed at
        once by the newest), then end the thread."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._start()
        await self._idle.wait()
        self._executor.shutdown(wait=True)
