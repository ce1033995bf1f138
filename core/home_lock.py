"""One engine per home: an exclusive lock held for as long as the engine runs.

Two engines on one home each believe they own the database and the paper venue's state: the
audit chain survives, the ledger does not (orders filled without fill rows, balances off from
the fills). Every command that runs the engine or writes the home takes this lock first and
refuses at once, naming the process that holds it.

The lock is ``flock`` on ``<home>/engine.lock``: the kernel releases it when the holder's
process ends in any way, SIGKILL and power loss included, so a lock file left behind by a dead
engine never blocks the next one. The file's content (PID and command line) only serves to name
the holder. The database gets its own lock file beside it (``<database>.lock``), so that two
homes whose ``storage.path`` points at one database refuse each other too; a PostgreSQL
database (``storage.url``) gets an advisory lock on the server instead
(``core.storage.pg_lock``), given here as a ``DatabaseLock``.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from core.filemodes import PRIVATE_FILE, narrow, private_dir

LOCK_NAME = "engine.lock"
# The holder writes its PID right after taking the lock; a refusal in between waits this long for it.
_RECORD_WAIT_S = 0.5


@dataclass(frozen=True)
class Holder:
    pid: int | None
    command: str

    def describe(self) -> str:
        if self.pid is None:
            return "a process that has not recorded its PID"
        return f"PID {self.pid}: {self.command}" if self.command else f"PID {self.pid}"


class EngineLocked(Exception):
    """Another process holds the home's or the database's lock (``path`` is the lock file,
    None for a lock on a server)."""

    def __init__(self, what: str, path: Path | None, holder: Holder) -> None:
        super().__init__(
            f"{what} is held by another OpenTrade process ({holder.describe()}); "
            "stop it first, or use another --home"
        )
        self.path = path
        self.holder = holder


class Held(Protocol):
    def release(self) -> None: ...


class DatabaseLock(Protocol):
    """A database's own lock, where it is not a file beside the database (a server's)."""

    def take(self, command: str) -> Held:
        """Take it for ``command``, or raise ``EngineLocked`` naming the holder."""


class EngineLock:
    """Locks taken together and released together (``release``, or the end of a ``with``)."""

    def __init__(self, command: str) -> None:
        self.command = command
        self._fds: list[int] = []
        self._held: list[Held] = []

    def take(self, path: Path, what: str) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
        try:
            narrow(path)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise EngineLocked(what, path, holder) from None
        except BaseException:
            os.close(fd)
            raise
        # Written over the old record, then cut to length: a reader never sees an empty file
        # where a dead holder's record was.
        record = f"{os.getpid()}\n{self.command}\n".encode()
        os.pwrite(fd, record, 0)
        os.ftruncate(fd, len(record))
        self._fds.append(fd)

    def hold(self, database: DatabaseLock) -> None:
        self._held.append(database.take(self.command))

    def release(self) -> None:
        """Empty the records and let go; the files stay (removing one would race with a
        process that has just opened it)."""
        for held in reversed(self._held):
            held.release()
        self._held.clear()
        for fd in reversed(self._fds):
            os.ftruncate(fd, 0)
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> EngineLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def lock_engine(home: Path, database: Path | DatabaseLock, command: str) -> EngineLock:
    """Lock the home (created, owner-only, if missing) and the database (a SQLite file, or a
    server's lock), or raise ``EngineLocked`` naming the holder. ``command`` is what a refused
    process is told."""
    private_dir(home)
    lock = EngineLock(command)
    try:
        lock.take(home / LOCK_NAME, f"the home {home}")
        _lock_database(lock, database)
    except BaseException:
        lock.release()
        raise
    return lock


def lock_database(database: Path | DatabaseLock, command: str) -> EngineLock:
    """The database's lock alone: for a command that writes a database that is not a home's
    (``opentrade db copy``'s target)."""
    lock = EngineLock(command)
    try:
        _lock_database(lock, database)
    except BaseException:
        lock.release()
        raise
    return lock


def _lock_database(lock: EngineLock, database: Path | DatabaseLock) -> None:
    if not isinstance(database, Path):
        lock.hold(database)
    # A database in a directory that does not exist cannot be opened by anyone: opening it
    # reports that better than a lock file could.
    elif database.parent.is_dir():
        lock.take(database.with_name(database.name + ".lock"), f"the database {database}")


def _holder(fd: int) -> Holder:
    deadline = time.monotonic() + _RECORD_WAIT_S
    while True:
        pid, _, command = os.pread(fd, 4096, 0).decode("utf-8", "replace").partition("\n")
        if pid.strip().isdigit():
            return Holder(int(pid), command.strip())
        if time.monotonic() > deadline:
            return Holder(None, "")
        time.sleep(0.01)
