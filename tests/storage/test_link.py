"""Writes someone waits on, as background work on the event loop sees them (``InFlight``)."""

from __future__ import annotations

import asyncio

from core.storage import Database
from tests.storage.conftest import make_order


async def test_quiet_waits_for_the_awaited_order_writes_and_busy_says_they_are_in_flight(db: Database) -> None:
    writes = db.order_writes
    assert not writes.busy and await writes.quiet(60) == 0.0  # nothing in flight: no wait at all
    lazy = db.queue_order(make_order(1), "created", new=True, lazy=True)
    assert not writes.busy  # a row nobody waits on is not waited for
    awaited = db.queue_order(make_order(2), "created", new=True)
    assert writes.busy
    waiting = asyncio.get_running_loop().create_task(writes.quiet(60))
    await awaited
    await waiting
    assert not writes.busy and lazy.done()


async def test_quiet_gives_up_after_its_limit(db: Database) -> None:
    awaited = db.queue_order(make_order(2), "created", new=True)
    assert await db.order_writes.quiet(0) >= 0  # returns without the write; it commits all the same
    await awaited
    assert not db.order_writes.busy
