"""The SQLite back end: a file in the home (the default).

The file is opened the way the repository needs it (write-ahead log, the chosen
``synchronous`` level, foreign keys), checked page by page before anything is written to it
(``checks.py``), watched for being deleted or replaced under the open connection
(``identity.py``), its write-ahead log kept short off the writer's thread (``checkpoint.py``),
and at a clean close checkpointed so that the ``.sqlite`` file alone holds everything.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from functools import partial
from pathlib import Path

from core.filemodes import narrow, private_file
from core.storage.backup import copy_database
from core.storage.checkpoint import BACKSTOP_PAGES, Checkpointer
from core.storage.checks import check_pages
from core.storage.dialect import Dialect, SqliteConn, synchronous_mode
from core.storage.errors import DamagedDatabaseError, StorageError, is_damage
from core.storage.identity import FileIdentity
from core.storage.link import Link

log = logging.getLogger(__name__)

# After a burst the WAL is cut back to this size at the next checkpoint instead of staying large.
WAL_SIZE_LIMIT = 64 * 1024 * 1024


def _unchanged(value: None) -> None:
    return value


# Python 3.11's sqlite3 binds a parameter that is not exactly an int, float, str or bytearray (None
# and bool among them) through its adapter protocol, and with no adapter registered for its type
# that protocol fails through a raised and cleared AttributeError: ~250 ns a parameter, against
# ~100 for an int. An order's row holds a dozen such (its unset prices, its flags), twice an
# order on the writer's thread. Registered adapters take the short way (~80 ns more than an
# int) and bind what was bound before: NULL, and a bool as the int it is. They hold for every
# sqlite3 connection of the process (the module keeps one registry); no other type is adapted.
sqlite3.register_adapter(type(None), _unchanged)
sqlite3.register_adapter(bool, int)


def connect(path: Path, synchronous: str = "FULL", *, readonly: bool = False) -> SqliteConn:
    """A connection in autocommit mode (transactions are explicit), WAL, foreign keys on, rows
    as plain tuples. ``readonly`` is for tools that inspect a file (audit verify, export): they
    must not change it, not even its journal mode. Runs on the thread that will own it."""
    mode = synchronous_mode(synchronous)
    if not readonly:
        _make_private(Path(path))
    target = Path(path).resolve().as_uri() + "?mode=ro" if readonly else str(path)
    try:
        raw = sqlite3.connect(target, isolation_level=None, uri=readonly)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open database {path}: {exc}") from exc
    try:
        raw.execute("PRAGMA busy_timeout = 5000")
        raw.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()  # "file is not a database" shows here
        if not readonly:
            row = raw.execute("PRAGMA journal_mode = WAL").fetchone()
            if row is None or str(row[0]).lower() != "wal":
                raise StorageError(f"cannot open database {path}: write-ahead logging is not available there")
            raw.execute(f"PRAGMA synchronous = {mode}")
            raw.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            raw.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raw.close()
        raise StorageError(f"cannot open database {path}: {exc}") from exc
    except StorageError:
        raw.close()
        raise
    return SqliteConn(raw)


async def sqlite_link(path: Path, synchronous: str = "FULL", *, readonly: bool = False) -> Link:
    """A connection to the file at ``path`` on a thread of its own."""
    mode = synchronous_mode(synchronous)
    return await Link.open(partial(connect, Path(path), mode, readonly=readonly), "sqlite")


def _make_private(path: Path) -> None:
    """The database owner-only before SQLite opens it: SQLite creates files 0644, and gives the
    -wal and -shm files the database's mode. Journals left by an older version are narrowed."""
    try:
        private_file(path)
        for journal in ("-wal", "-shm"):
            narrow(path.with_name(path.name + journal))
    except OSError as exc:
        raise StorageError(f"cannot open database {path}: {exc.strerror}") from exc


def _checkpoint(conn: SqliteConn) -> bool:
    """Move the write-ahead log into the database file and empty it; False when a reader in
    another program kept part of it from being moved (it is moved at a later checkpoint)."""
    busy = conn.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    return not busy


def _keep_log_short(conn: SqliteConn) -> None:
    """The writer's own checkpoints only as a backstop: the backend's ``Checkpointer`` keeps
    the log short, off the writer's thread."""
    conn.raw.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")


def _failure(path: Path, exc: BaseException) -> StorageError | None:
    """What an error met while opening means: a damaged page the checks did not reach, or a
    file SQLite cannot use."""
    if is_damage(exc):
        return DamagedDatabaseError.of(path, str(exc))
    if isinstance(exc, sqlite3.Error):
        return StorageError(f"cannot open database {path}: {exc}")
    return None


class SqliteBackend:
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, writer: Link, checkpointer: Checkpointer) -> None:
        self.path = path
        self.location = str(path)
        self.writer = writer
        self.checkpointer = checkpointer
        self._identity = FileIdentity(path)

    @classmethod
    async def open(cls, path: Path, synchronous: str) -> SqliteBackend:
        """The writer's connection, after the file passed SQLite's own check (quick_check):
        a damaged file raises DamagedDatabaseError before anything is written to it."""
        path = Path(path)
        if not path.parent.is_dir():
            raise StorageError(f"cannot open database {path}: the directory {path.parent} does not exist")
        try:
            writer = await sqlite_link(path, synchronous)
        except StorageError as exc:
            if is_damage(exc.__cause__):  # its header is gone, or SQLite met a bad page at once
                raise DamagedDatabaseError.of(path, str(exc.__cause__)) from exc
            raise
        try:
            await writer.run(check_pages, path)
            await writer.run(_keep_log_short)
            checkpointer = Checkpointer(path)
        except BaseException as exc:
            await writer.close()
            failure = _failure(path, exc)
            if failure is not None:
                raise failure from exc
            raise
        return cls(path, writer, checkpointer)

    async def reader(self) -> Link:
        return await sqlite_link(self.path, readonly=True)

    def open_failure(self, exc: BaseException) -> StorageError | None:
        return _failure(self.path, exc)

    def file_problem(self) -> str | None:
        return self._identity.problem()

    def committed(self) -> None:
        self.checkpointer.committed()

    async def rescue(self, ts: int) -> Path:
        """Copy what the connection still holds next to the path (``<name>.rescued-<ts>``)."""
        target = self.path.with_name(f"{self.path.name}.rescued-{ts}")
        await self.writer.run(lambda conn: copy_database(conn.raw, target))
        return target

    async def close(self, fenced: bool) -> None:
        """Checkpoint the write-ahead log into the file (not into a file no longer at its
        path), then close."""
        await asyncio.to_thread(self.checkpointer.close)
        if not fenced:
            try:
                if not await self.writer.run(_checkpoint):
                    log.warning("the write-ahead log of %s was not fully checkpointed: another program reads it",
                                self.path)
            except sqlite3.Error as exc:
                log.warning("the write-ahead log of %s was not checkpointed: %s", self.path, exc)
        await self.writer.close()
