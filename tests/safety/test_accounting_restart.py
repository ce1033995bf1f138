"""Fills and the saved accounting state after a restart: a fill written after the last save is
booked once, never twice, and a state saved by an older version is left as it was."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from core.clock import SimClock
from core.storage.database import Database
from tests.safety.conftest import SPOT, market, settle, start_engine, until

D = Decimal


async def holding(home: Path, clock: SimClock) -> Decimal:
    engine = await start_engine(home, clock)
    try:
        position = engine.portfolio.position("paper", SPOT)
        return position.size if position is not None else D(0)
    finally:
        await engine.close()


async def buy_and_close(home: Path, clock: SimClock) -> str:
    """Buy 0.01; returns the accounting state as saved before the buy."""
    engine = await start_engine(home, clock)
    await engine.journal.save()
    before = await engine.db.get_state("portfolio")
    assert before is not None
    await engine.place_order(market(size="0.01"))
    await until(lambda: engine.portfolio.position("paper", SPOT) is not None, "the fill booked")
    await settle()
    await engine.close()
    return before


async def overwrite_state(home: Path, text: str) -> None:
    db = await Database.open(home / "opentrade.sqlite")
    await db.set_state("portfolio", text)
    await db.close()


async def test_a_clean_restart_books_nothing_twice(isolated_home: Path, clock: SimClock) -> None:
    await buy_and_close(isolated_home, clock)
    assert await holding(isolated_home, clock) == D("0.01")
    assert await holding(isolated_home, clock) == D("0.01")


async def test_a_fill_written_after_the_last_save_is_booked_at_start_up(isolated_home: Path, clock: SimClock) -> None:
    before = await buy_and_close(isolated_home, clock)
    await overwrite_state(isolated_home, before)  # as if the process died before saving again
    assert await holding(isolated_home, clock) == D("0.01")


async def test_a_state_saved_without_its_fills_is_not_replayed(isolated_home: Path, clock: SimClock) -> None:
    await buy_and_close(isolated_home, clock)
    db = await Database.open(isolated_home / "opentrade.sqlite")
    saved = await db.get_state("portfolio")
    await db.close()
    assert saved is not None
    await overwrite_state(isolated_home, json.loads(saved)["state"])  # the older format: the state alone
    assert await holding(isolated_home, clock) == D("0.01")
