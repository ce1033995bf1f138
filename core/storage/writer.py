"""Group commit: one writer, many callers, one fsync per batch.

With ``synchronous=FULL`` every COMMIT waits for the disk (on PostgreSQL,
``synchronous_commit=on``: for the server's WAL flush), so committing each order alone caps
throughput at the disk's fsync rate. Here callers hand an operation to the writer; a write
that finds the writer idle starts a transaction at once, on the connection's thread, while the
event loop carries on; whatever queues up meanwhile goes into the next transaction, started
by that thread the moment the previous one commits (not by the event loop, which may be busy
for a millisecond or more before it reads the news of the commit). Each caller's ``await`` returns only after the COMMIT
containing its write, so "returned" still means "durable". Writes commit in the order they
were queued.

A write nobody waits on (an order's status row written behind, see ``OrderManager.apply``)
is ``lazy``: it does not start a transaction of its own but waits up to ``LAZY_WINDOW``
seconds for a write someone does wait on, so the two share one fsync. ``close`` commits it.

A batch first runs plainly, order records gathered into a few multi-row statements (see
``ops.OrderRows``). Operations rarely fail; if one does, the batch is rolled back and run
again with each operation in its own SAVEPOINT, so the failing one is rolled back alone and
its caller gets the error while the rest commit. Under the write lock each batch first
re-reads the audit chain's head, so another program writing to the same database cannot fork it.

A write that fails because of the file or its disk (full, I/O error, locked too long) is a
storage fault: besides its caller, ``on_fault`` hears of it, once per batch, so the engine can
stop trading on storage that no longer keeps what it is given. ``on_commit`` receives the
chain's head after each commit (the anchor outside the database). ``fence`` refuses every
later write, for a database file that is no longer the one at its path.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from core.faults import disk_full_point
from core.storage.audit import AuditChain
from core.storage.dialect import Conn
from core.storage.errors import StorageError, is_driver_error, is_storage_fault
from core.storage.link import Link
from core.storage.ops import OrderRecord, OrderRows

log = logging.getLogger(__name__)

WriteOp = Callable[[Conn, AuditChain], Any]
FaultListener = Callable[[StorageError], None]
HeadListener = Callable[[tuple[int, str]], None]
_Outcome = tuple[bool, Any]
LAZY_WINDOW = 0.002  # seconds; a person placing orders by hand sees no difference
DRAIN_BATCHES = 8  # transactions in a row on the connection's thread before its other work


def _as_storage_error(exc: BaseException) -> BaseException:
    if is_driver_error(exc):
        return StorageError(f"database write failed: {exc}")
    return exc


def apply_batch(conn: Conn, ops: list[WriteOp], chain: AuditChain) -> list[_Outcome]:
    """Runs on the connection thread: all ``ops`` in one transaction (see the module docstring)."""
    start = chain.mark()
    try:
        return _in_transaction(conn, chain, lambda: _run_plain(conn, ops, chain))
    except _OpFailed:
        chain.restore(start)
        return _in_transaction(conn, chain, lambda: _run_isolated(conn, ops, chain))


class _OpFailed(Exception):
    """An operation failed in a plain run; the batch is rolled back and run isolated."""


def _in_transaction(conn: Conn, chain: AuditChain, run: Callable[[], list[_Outcome]]) -> list[_Outcome]:
    start = chain.mark()
    conn.begin_write()
    try:
        chain.sync(conn)
        synced = chain.mark()
        outcomes = run()
        if chain.mark() != synced:
            chain.save_head(conn)
        disk_full_point("commit")
        conn.commit()
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        chain.restore(start)
        raise
    return outcomes


def _run_plain(conn: Conn, ops: list[WriteOp], chain: AuditChain) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    orders = OrderRows()
    try:
        for op in ops:
            if isinstance(op, OrderRecord):
                orders.add(op, chain)
                outcomes.append((True, None))
                continue
            if not orders.insert(conn):  # an operation may read what the orders wrote
                raise _OpFailed
            outcomes.append((True, op(conn, chain)))
        if not orders.insert(conn):
            raise _OpFailed
    except _OpFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - run again, isolated, to find whose it is
        raise _OpFailed from exc
    return outcomes


def _run_isolated(conn: Conn, ops: list[WriteOp], chain: AuditChain) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    for op in ops:
        op_mark = chain.mark()
        conn.savepoint("op")
        try:
            outcomes.append((True, op(conn, chain)))
        except Exception as exc:  # noqa: BLE001 - the caller of this one op receives it
            conn.rollback_to("op")
            chain.restore(op_mark)
            outcomes.append((False, exc))
        conn.release("op")
    return outcomes


class GroupCommitWriter:
    """The only path by which the repository writes; see the module docstring."""

    def __init__(
        self, link: Link, chain: AuditChain, max_batch: int = 1000, *,
        on_fault: FaultListener | None = None, on_commit: HeadListener | None = None,
    ) -> None:
        self._link = link
        self._chain = chain
        self._max_batch = max_batch
        self._on_fault = on_fault
        self._on_commit = on_commit
        self._fenced: str | None = None
        # Shared with the connection's thread, under _lock: what is queued, whether a write
        # someone waits on (or a lazy write's window, or the close) wants a commit now, and
        # whether a run of transactions (``_drain``) is under way there.
        self._lock = threading.Lock()
        self._pending: list[tuple[WriteOp, asyncio.Future[Any]]] = []
        self._due = False
        self._draining = False
        self._closing = False
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.batches = 0
        self.writes = 0

    async def submit(self, op: WriteOp) -> Any:
        """Queue ``op`` and return its result once the transaction holding it has committed."""
        return await self.queue(op)

    def queue(self, op: WriteOp, *, lazy: bool = False) -> asyncio.Future[Any]:
        """Queue ``op`` now; the future resolves when its transaction has committed."""
        if self._closing:
            raise StorageError("the database is closed")
        if self._fenced is not None:
            raise StorageError(f"not saved: {self._fenced}")
        loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._idle.clear()
        with self._lock:
            self._pending.append((op, future))
            if lazy:
                start = False
                if not self._draining and self._timer is None:
                    self._timer = loop.call_later(LAZY_WINDOW, self._window_over)
            else:
                self._due = True
                start = not self._draining
                self._draining = True
        if start:
            self._start()
        return future

    async def close(self) -> None:
        """Commit everything already queued, then stop."""
        self._closing = True
        with self._lock:
            start = bool(self._pending) and not self._draining
            self._draining = self._draining or start
        if start:
            self._start()
        self._check_idle()
        await self._idle.wait()

    async def fence(self, reason: str) -> None:
        """Refuse every write from now on (``reason`` says why), fail those still queued, and
        return once the transaction under way, if any, has ended."""
        self._fenced = reason
        with self._lock:
            pending, self._pending = self._pending, []
        self._fail(pending, StorageError(reason))
        self._check_idle()
        await self._idle.wait()

    def _window_over(self) -> None:
        """A lazy write has waited ``LAZY_WINDOW`` for a write that someone waits on: commit it."""
        self._timer = None
        with self._lock:
            start = bool(self._pending) and not self._draining
            self._due = self._due or start
            self._draining = self._draining or start
        if start:
            self._start()

    def _start(self) -> None:
        """Hand ``_drain`` to the connection's thread (``_draining`` is already set)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            self._link.start(self._drain)
        except StorageError as exc:  # the connection is closed: nothing queued can be saved
            with self._lock:
                pending, self._pending = self._pending, []
                self._draining = self._due = False
            self._fail(pending, exc)
            self._check_idle()

    def _drain(self, conn: Conn) -> None:
        """On the connection's thread: transactions one after another while a write wants its
        commit, each started the moment the previous one commits, without a turn of the event
        loop in between (a busy loop took a millisecond or more to start the next one). Each
        transaction's outcome goes to the loop, which resolves its futures. After ``DRAIN_BATCHES``
        the thread is given back to the connection's other work (a backup, a checkpoint) and
        the loop starts the next run."""
        assert self._loop is not None
        try:
            for _ in range(DRAIN_BATCHES):
                with self._lock:
                    if not self._pending or not (self._due or self._closing or len(self._pending) >= self._max_batch):
                        break
                    batch = self._pending[: self._max_batch]
                    del self._pending[: self._max_batch]
                    self._due = self._due and bool(self._pending)
                try:
                    outcome: tuple[list[_Outcome] | None, BaseException | None] = (
                        apply_batch(conn, [op for op, _ in batch], self._chain), None)
                except BaseException as exc:  # noqa: BLE001 - every caller of the batch hears of it
                    outcome = None, exc
                self._loop.call_soon_threadsafe(self._committed, batch, *outcome, self._chain.mark())
        finally:
            with self._lock:
                self._draining = False
            self._loop.call_soon_threadsafe(self._drained)

    def _committed(
        self, batch: list[tuple[WriteOp, asyncio.Future[Any]]], outcomes: list[_Outcome] | None,
        error: BaseException | None, head: tuple[int, str],
    ) -> None:
        if outcomes is None:
            log.error("group commit of %d writes failed: %s", len(batch), error)
            self._fail(batch, error or StorageError("the commit failed"))
            self._fault(error or StorageError("the commit failed"))
            return
        self.batches += 1
        self.writes += len(batch)
        fault: BaseException | None = None
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if not ok and fault is None and is_storage_fault(value):
                fault = value
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(_as_storage_error(value))
        if fault is not None:
            self._fault(fault)
        if self._on_commit is not None:
            self._on_commit(head)

    def _drained(self) -> None:
        """The connection's thread stopped: start again if a write wants its commit (a run
        that reached ``DRAIN_BATCHES``), wait out the lazy window for lazy writes alone."""
        with self._lock:
            start = bool(self._pending) and not self._draining and (self._due or self._closing)
            self._draining = self._draining or start
            wait = bool(self._pending) and not self._draining
        if start:
            self._start()
        elif wait and self._timer is None:
            assert self._loop is not None
            self._timer = self._loop.call_later(LAZY_WINDOW, self._window_over)
        self._check_idle()

    def _check_idle(self) -> None:
        if not self._draining and not self._pending:
            self._idle.set()

    def _fault(self, error: BaseException) -> None:
        if self._on_fault is not None:
            self._on_fault(StorageError(f"database write failed: {error}"))

    @staticmethod
    def _fail(writes: list[tuple[WriteOp, asyncio.Future[Any]]], error: BaseException) -> None:
        for _, future in writes:
            if not future.done():
                future.set_exception(StorageError(f"database commit failed, this write was not saved: {error}"))
