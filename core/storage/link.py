"""A database connection owned by one thread, and work handed to that thread whole.

Both drivers the repository uses (sqlite3, psycopg's synchronous connection) block. Each
connection lives on a thread of its own, where it is opened, used and closed. A group commit
wants a whole batch (BEGIN, many statements, COMMIT) in a single hop to that thread, and
verifying a long audit log wants to stream rows without a hop per chunk: ``start`` hands over
``fn(conn, *args)`` and returns the future of its result at once, the thread already at work
while the event loop carries on (the group-commit writer relies on that).

Background work on the event loop gives way to writes someone waits on (``InFlight``). The
connection's thread needs the interpreter lock between its statements (a group commit takes
it some 40 times), and a busy event loop hands it over only when it blocks: not in the instant
its poll gives it up between two ready callbacks (the waiting thread is still waking up), and
not at CPython's own switch request, which comes only after 5 ms (``sys.getswitchinterval``).
So an order's write queued just before the paper market's step (five markets, ~0.8 ms of
Python with a turn of the loop between them) waited for the whole step before its first
statement: 0.9 ms of the 2.4 ms an order took at the 99th percentile, 0.05 ms at the median
(``bench_order_path.py``, one order at a time). Handing the lock over sooner does not pay
where orders come many at once: with a 0.2-1 ms switch interval while writes were in flight,
batches shrank from 64 writes to 17-30 and both threads spent more CPU an order (loop 161-173
-> 183-198 us, database 46-47 -> 67-90 us): 4,280-4,540 -> 3,260-3,670 orders/s.
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


class InFlight:
    """Writes someone is waiting on (``track``), for background work on the event loop that
    lets them go first (``busy``, ``quiet``): while it waits the loop can block, and the
    connection's thread gets the interpreter lock whenever it asks."""

    def __init__(self) -> None:
        self._count = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    def track(self, write: asyncio.Future[Any]) -> None:
        """Count ``write`` until it is done (committed, failed or cancelled)."""
        self._count += 1
        self._quiet.clear()
        write.add_done_callback(self._done)

    def _done(self, _write: asyncio.Future[Any]) -> None:
        self._count -= 1
        if not self._count:
            self._quiet.set()

    @property
    def busy(self) -> bool:
        return bool(self._count)

    async def quiet(self, limit: float) -> float:
        """Wait until no tracked write is in flight (at once if none is), ``limit`` seconds at
        the most; the seconds waited."""
        if not self._count:
            return 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(limit):
                await self._quiet.wait()
        except TimeoutError:
            pass
        return loop.time() - started


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
