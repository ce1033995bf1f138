"""The engine's watch over its storage: trading stops when what it does can no longer be kept.

A write that fails because of the disk (full, an I/O error) or a database file deleted or
replaced under the running engine means that orders, fills and audit entries from then on are
lost, and trading must not go on. The watch halts trading (HALTED, with the reason), raises a
critical alert (on screen and to the notification channels), and audits the fault where the
database still takes writes. For a file that is gone, the open connection still holds the whole
history: the watch refuses every later write and saves a copy of it beside the path. The file
is checked every ``INTERVAL`` seconds of the engine's clock, and after every failed write. A
halt lasts until a person resets it, once the cause is fixed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Coroutine
from typing import Any

from core.events import EventBus, RiskAlert
from core.models import RiskState
from core.ports import Clock
from core.risk import RiskManager
from core.storage.errors import StorageError
from core.storage.interface import Storage

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds; a stat call each time


class StorageWatch:
    def __init__(self, db: Storage, risk: RiskManager, bus: EventBus, clock: Clock) -> None:
        self._db = db
        self._risk = risk
        self._bus = bus
        self._clock = clock
        self.fault: str | None = None  # the first storage failure, the reason trading halted
        self._file_gone = False
        self._pending: set[asyncio.Task[None]] = set()
        db.on_fault(lambda error: self.trip(str(error)))

    async def run(self) -> None:
        """Check the database file every INTERVAL seconds (the engine runs this as a task)."""
        while not self._file_gone:
            await self._clock.sleep(INTERVAL)
            problem = self._db.file_problem()
            if problem is not None:
                self.trip(problem)

    def trip(self, reason: str) -> None:
        """Halt trading for a storage failure; a file gone from its path names the failure
        better than the write error it caused, so it is checked first. The audit entry goes
        in before a rescue copy is taken, so the copy holds it."""
        gone = self._db.file_problem()
        steps: list[Awaitable[None]] = []
        if self.fault is None:
            self.fault = gone or reason
            log.critical("storage failure, trading halted: %s", self.fault)
            self._risk.set_state(RiskState.HALTED, f"storage failure: {self.fault}")
            self._alert(
                "storage_failure", f"{self.fault}; trading is halted until the storage is fixed and the risk state reset"
            )
            audit = self._db.audit("storage_failure", {"reason": self.fault}, actor="storage", ts=self._clock.now_ms())
            steps.append(self.attempt("auditing the storage failure", audit))
        if gone is not None and not self._file_gone:
            self._file_gone = True
            steps.append(self._rescue(gone))
        if steps:
            self._later(self._in_turn(steps))

    async def attempt(self, what: str, step: Awaitable[Any]) -> None:
        """A write that nothing waits on to go on (the risk state, the shutdown's last writes):
        a storage failure is logged rather than raised, so the shutdown still closes the venues
        and the database, and no task ends on an exception nobody reads."""
        try:
            await step
        except StorageError as exc:
            log.error("%s failed: %s", what, exc)

    async def drain(self) -> None:
        """Wait for the audit entry and the rescue copy under way."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def _alert(self, rule: str, message: str) -> None:
        self._bus.publish(RiskAlert("critical", rule, message, ts=self._clock.now_ms()))

    async def _rescue(self, reason: str) -> None:
        try:
            copy = await self._db.rescue(reason, self._clock.now_ms())
        except (StorageError, sqlite3.Error, OSError) as exc:
            log.critical("what the open database held could not be saved: %s", exc)
            return
        message = (f"what the engine had written is saved in {copy}: stop OpenTrade, then put it in place "
                   f"of {self._db.location}")
        log.critical("%s", message)
        self._alert("storage_rescued", message)

    @staticmethod
    async def _in_turn(steps: list[Awaitable[None]]) -> None:
        for step in steps:
            await step

    def _later(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
