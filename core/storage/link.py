"""A database connection owned by one thread, and work handed to that thread whole.

Both drivers the repository uses (sqlite3, psycopg's synchronous connection) block. Each
connection lives on a thread of its own, where it is opened, used and closed. A group commit
wants a whole batch (BEGIN, many statements, COMMIT) in a single hop to that thread, and
verifying a long audit log wants to stream rows without a hop per chunk: ``start`` hands over
``fn(conn, *args)`` and returns the future of its result at once, the thread already at work
while the event loop carries on (the group-commit writer relies on that).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from core.storage.dialect import Conn, Dialect
from core.storage.errors import StorageError

T = TypeVar("T")
DB_THREAD_PREFIX = "opentrade-db"


class Link:
    def __init__(self, conn: Conn, executor: ThreadPoolExecutor) -> None:
        self.conn = conn
        self.dialect: Dialect = conn.dialect
        self._executor = executor
        self._closed = False

    @classmethod
    async def open(cls, connect: Callable[[], Conn], name: str) -> Link:
        """Open a connection with ``connect`` on a new thread that keeps it."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{DB_THREAD_PREFIX}-{name}")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, connect)
        except BaseException:
            executor.shutdown(wait=True)
            raise
        return cls(conn, executor)

    def start(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``fn(conn, *args)`` handed to the connection's thread now; its result's future."""
        if self._closed:
            raise StorageError("the database connection is closed")
        return asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, self.conn, *args))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` on the connection's thread, in one hop."""
        return await self.start(fn, *args)

    async def close(self) -> None:
        """Close the connection and end its thread (a leftover thread keeps a process from
        exiting); calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self.conn.close)
        finally:
            self._executor.shutdown(wait=True)
