"""Opening SQLite the way the repository needs it, and running work on the connection's thread.

aiosqlite gives each connection one worker thread and hops to it for every call. A group
commit wants a whole batch (BEGIN, many statements, COMMIT) in a single hop, and verifying a
long audit log wants to stream rows without a hop per chunk; ``in_thread`` provides that.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from core.filemodes import narrow, private_file
from core.storage.errors import StorageError

T = TypeVar("T")

SYNCHRONOUS_MODES = ("FULL", "NORMAL")
# After a burst the WAL is cut back to this size at the next checkpoint instead of staying large.
WAL_SIZE_LIMIT = 64 * 1024 * 1024


async def connect(path: Path, synchronous: str = "FULL", *, readonly: bool = False) -> aiosqlite.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, foreign keys on.

    ``readonly`` is for tools that inspect a file (audit verify, export): they must not
    change it, not even its journal mode.
    """
    mode = synchronous.upper()
    if mode not in SYNCHRONOUS_MODES:
        raise StorageError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, not {synchronous!r}")
    if not readonly:
        _make_private(Path(path))
    target = Path(path).resolve().as_uri() + "?mode=ro" if readonly else str(path)
    try:
        conn = await aiosqlite.connect(target, isolation_level=None, uri=readonly)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open database {path}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    try:
        await conn.execute("PRAGMA busy_timeout = 5000")
        await conn.execute_fetchall("SELECT COUNT(*) FROM sqlite_master")  # "file is not a database" shows here
        if not readonly:
            row = await (await conn.execute("PRAGMA journal_mode = WAL")).fetchone()
            if row is None or str(row[0]).lower() != "wal":
                raise StorageError(f"cannot open database {path}: write-ahead logging is not available there")
            await conn.execute(f"PRAGMA synchronous = {mode}")
            await conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            await conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        await conn.close()
        raise StorageError(f"cannot open database {path}: {exc}") from exc
    except StorageError:
        await conn.close()
        raise
    return conn


def _make_private(path: Path) -> None:
    """The database owner-only before SQLite opens it: SQLite creates files 0644, and gives the
    -wal and -shm files the database's mode. Journals left by an older version are narrowed."""
    try:
        private_file(path)
        for journal in ("-wal", "-shm"):
            narrow(path.with_name(path.name + journal))
    except OSError as exc:
        raise StorageError(f"cannot open database {path}: {exc.strerror}") from exc


def start_in_thread(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Hand ``fn(raw_connection, *args)`` to the connection's own thread now and return the
    future of its result: the thread starts before the caller yields, so it works while the
    event loop carries on (the group-commit writer relies on that).

    aiosqlite has no public call for this. Its ``_execute``, which all of its public calls go
    through, puts ``(future, function)`` on the queue ``_tx`` that its thread reads and awaits
    the future; this does the same without the await. Confined here so a change in aiosqlite
    touches one module (stable since 0.17; the project pins >=0.22).
    """
    if not conn._running or conn._connection is None:  # noqa: SLF001
        raise StorageError("the database connection is closed")
    raw: sqlite3.Connection = conn._conn  # noqa: SLF001
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    conn._tx.put_nowait((future, partial(fn, raw, *args)))  # noqa: SLF001
    return future


async def in_thread(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(raw_connection, *args)`` on the connection's own thread, in one hop."""
    return await start_in_thread(conn, fn, *args)


async def close(conn: aiosqlite.Connection) -> None:
    """Close the connection and wait for its thread to end: aiosqlite answers ``close`` just
    before its thread exits, and a caller that has closed everything should find no thread
    of ours left (a leftover, non-daemon thread is what keeps a process from exiting)."""
    await conn.close()
    conn._thread.join(timeout=5)  # noqa: SLF001 - the thread has finished its last task
