"""Group commit: one writer, many callers, one fsync per batch.

With ``synchronous=FULL`` every COMMIT waits for the disk, so committing each order alone caps
throughput at the disk's fsync rate. Here callers hand an operation to a single writer task;
whatever has queued up while the previous COMMIT was running goes into the next transaction,
run on the connection's thread in one hop. Each caller's ``await`` returns only after the
COMMIT containing its write, so "returned" still means "durable".

A write nobody waits on (an order's status row written behind, see ``OrderManager.apply``)
is ``lazy``: alone, it waits up to ``LAZY_WINDOW`` seconds for a write someone does wait on, so
the two share one fsync instead of queueing behind each other. ``close`` commits it at once.

Every operation runs inside its own SAVEPOINT: one failing operation (a constraint, bad data)
is rolled back alone and its caller gets the error, while the rest of the batch commits.
Under the write lock each batch first re-reads the audit chain's head, so another program
writing to the same file cannot fork the chain.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

from core.storage.audit import AuditChain
from core.storage.connection import in_thread
from core.storage.errors import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteOp = Callable[[sqlite3.Connection, AuditChain], Any]
_Outcome = tuple[bool, Any]
LAZY_WINDOW = 0.002  # seconds; a person placing orders by hand sees no difference


def _as_storage_error(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.Error):
        return StorageError(f"database write failed: {exc}")
    return exc


def apply_batch(conn: sqlite3.Connection, ops: list[WriteOp], chain: AuditChain) -> list[_Outcome]:
    """Runs on the connection thread: all ``ops`` in one transaction.

    Operations rarely fail, so the batch first runs them plainly; only if one raises is it
    rolled back and run again with a savepoint around each operation, which isolates the
    failure at the price of two more statements per operation.
    """
    start = chain.mark()
    try:
        return _run_batch(conn, ops, chain, isolated=False)
    except _OpFailed:
        chain.restore(start)
        return _run_batch(conn, ops, chain, isolated=True)


class _OpFailed(Exception):
    """An operation failed in a batch run without savepoints; the batch has been rolled back."""


def _run_batch(conn: sqlite3.Connection, ops: list[WriteOp], chain: AuditChain, isolated: bool) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    start = chain.mark()
    conn.execute("BEGIN IMMEDIATE")
    try:
        chain.sync(conn)
        synced = chain.mark()
        for op in ops:
            if not isolated:
                try:
                    outcomes.append((True, op(conn, chain)))
                except Exception as exc:  # noqa: BLE001 - run again, isolated, below
                    raise _OpFailed from exc
                continue
            op_mark = chain.mark()
            conn.execute("SAVEPOINT op")
            try:
                outcomes.append((True, op(conn, chain)))
            except Exception as exc:  # noqa: BLE001 - the caller of this one op receives it
                conn.execute("ROLLBACK TO op")
                chain.restore(op_mark)
                outcomes.append((False, exc))
            conn.execute("RELEASE op")
        if chain.mark() != synced:
            chain.save_head(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        chain.restore(start)
        raise
    return outcomes


class GroupCommitWriter:
    """The only path by which the repository writes; see the module docstring."""

    def __init__(self, conn: aiosqlite.Connection, chain: AuditChain, max_batch: int = 1000) -> None:
        self._conn = conn
        self._chain = chain
        self._max_batch = max_batch
        self._pending: list[tuple[WriteOp, asyncio.Future[Any]]] = []
        self._inflight: list[tuple[WriteOp, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.writes = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="storage-group-commit")
        self._task.add_done_callback(self._stopped)

    async def submit(self, op: WriteOp, *, lazy: bool = False) -> Any:
        """Queue ``op`` and return its result once the transaction holding it has committed."""
        return await self.queue(op, lazy=lazy)

    def queue(self, op: WriteOp, *, lazy: bool = False) -> asyncio.Future[Any]:
        """Queue ``op`` now; the future resolves when its transaction has committed. Writes
        queued one after another commit in that order."""
        if self._closing:
            raise StorageError("the database is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((op, future))
        self._wake.set()
        if not lazy:
            self._urgent.set()
        return future

    async def close(self) -> None:
        """Commit everything already queued, then stop."""
        self._closing = True
        self._wake.set()
        self._urgent.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _stopped(self, task: asyncio.Task[None]) -> None:
        """Reached early only if the task was cancelled (the event loop shutting down):
        nobody may be left waiting for a commit that will never come."""
        self._closing = True
        for _, future in self._inflight:
            if not future.done():
                future.set_exception(
                    StorageError("the database writer stopped while committing this write: it may or may not be saved")
                )
        for _, future in self._pending:
            if not future.done():
                future.set_exception(StorageError("the database writer stopped before this write was saved"))
        self._inflight, self._pending = [], []

    async def _run(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self._urgent.is_set():
                timer = asyncio.get_running_loop().call_later(LAZY_WINDOW, self._urgent.set)
                try:
                    await self._urgent.wait()
                finally:
                    timer.cancel()
            self._urgent.clear()
            self._inflight = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            await self._commit(self._inflight)
            self._inflight = []

    async def _commit(self, batch: list[tuple[WriteOp, asyncio.Future[Any]]]) -> None:
        try:
            outcomes = await in_thread(self._conn, apply_batch, [op for op, _ in batch], self._chain)
        except Exception as exc:  # noqa: BLE001 - every caller in the failed batch is told
            log.error("group commit of %d writes failed: %s", len(batch), exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(StorageError(f"database commit failed, this write was not saved: {exc}"))
            return
        self.batches += 1
        self.writes += len(batch)
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(_as_storage_error(value))
