"""A restarted grid re-adopts its ladder: it answers the rungs that filled while it was away,
places only the missing ones and cancels whatever is beyond one order per rung."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import StrategyConfig
from core.events import TradePrinted
from core.models import Fill, Order, OrderRequest, OrderType, Side, Trade
from core.storage.database import Database
from core.strategies.grid import Grid
from core.strategies.live import LiveStrategies
from core.strategies.recovery import recover
from core.strategies.runner import STATE_KEY, StrategyEngine
from tests.strategies.helpers import FakeHost

PARAMS = {"lower": 90.0, "upper": 110.0, "levels": 5, "order_size": 1.0}  # 90, 95, 100, 105, 110


def tick(price: str) -> Trade:
    return Trade(venue="paper", symbol="BTC/USDT", ts=0, price=Decimal(price), size=Decimal(1), side=Side.BUY)


def ladder(host: FakeHost) -> list[tuple[str, Decimal]]:
    return sorted((o.side.value, o.price) for o in host.working.values() if o.price is not None)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(tmp_path / "db.sqlite") as opened:
        yield opened


async def start(db: Database, host: FakeHost, params: dict | None = None) -> tuple[StrategyEngine, Grid]:
    """A grid started as the engine starts one: recovered from ``db`` and the host's working orders."""
    engine = StrategyEngine(host, store=db)
    grid = Grid(params or PARAMS, strategy_id="g")
    engine.add(grid, venue="paper", symbols=["BTC/USDT"], timeframe="1m")
    engine.subscribe()
    await recover(engine)
    await engine.start()
    return engine, grid


def order(host: FakeHost, side: Side, price: str, client_order_id: str) -> Order:
    placed = Order.from_request(OrderRequest(
        venue="paper", symbol="BTC/USDT", side=side, type=OrderType.LIMIT, size=Decimal(1), price=Decimal(price),
        strategy_id="g", client_order_id=client_order_id,
    ), 0)
    host.working[client_order_id] = placed
    return placed


async def test_a_restarted_grid_keeps_its_ladder_and_sends_nothing(db: Database, clock: SimClock) -> None:
    host = FakeHost(clock)
    engine, _ = await start(db, host)
    await engine.on_trade(tick("101"))
    before = dict(host.working)
    assert ladder(host) == [("buy", Decimal(90)), ("buy", Decimal(95)), ("buy", Decimal(100))]

    host.sent.clear()
    engine, grid = await start(db, host)
    await engine.on_trade(tick("101"))
    assert host.sent == [] and host.canceled == [] and host.working == before
    assert grid.state() == {"mode": "active", "open_orders": 3, "holdings": [], "round_trips": 0}


async def test_a_rung_that_filled_while_away_is_answered_at_start(db: Database, clock: SimClock) -> None:
    host = FakeHost(clock)
    engine, _ = await start(db, host)
    await engine.on_trade(tick("101"))
    bought = next(o for o in host.working.values() if o.price == Decimal(95))
    del host.working[bought.client_order_id]  # filled at the venue while the engine was down
    await db.record_fill(Fill(fill_id="f1", client_order_id=bought.client_order_id, venue="paper", symbol="BTC/USDT",
                              side=Side.BUY, price=Decimal(95), size=Decimal(1), strategy_id="g"))
    host.sent.clear()

    engine, grid = await start(db, host)
    (answer,) = host.sent
    assert (answer.side, answer.price) == (Side.SELL, Decimal(100))
    assert grid.holdings == {1} and engine.context("g").position("BTC/USDT") == Decimal(1)
    assert ladder(host) == [("buy", Decimal(90)), ("buy", Decimal(100)), ("sell", Decimal(100))]


async def test_a_rung_saved_but_never_sent_is_placed_once(db: Database, clock: SimClock) -> None:
    host = FakeHost(clock)
    order(host, Side.BUY, "90", "sent")
    saved = {"grid": [90.0, 110.0, 5, "arithmetic"], "mode": "active", "holdings": [], "round_trips": 0,
             "ladder": {"sent": [0, 1], "lost-in-the-crash": [1, 1]}}
    await db.set_state(STATE_KEY + "g", json.dumps(saved))
    await start(db, host)
    (placed,) = host.sent
    assert (placed.side, placed.price) == (Side.BUY, Decimal(95))
    assert ladder(host) == [("buy", Decimal(90)), ("buy", Decimal(95))]


async def test_orders_beyond_one_per_rung_are_canceled(db: Database, clock: SimClock) -> None:
    """The state an old version left: no saved ladder, the same ladder placed twice, and an
    order at a price that is no level of this grid."""
    host = FakeHost(clock)
    for k, (side, price) in enumerate([(Side.BUY, "90"), (Side.BUY, "95"), (Side.BUY, "95"), (Side.BUY, "90"),
                                       (Side.SELL, "105"), (Side.BUY, "93")]):
        order(host, side, price, f"o{k}")
    engine, grid = await start(db, host)
    assert sorted(host.canceled) == ["o2", "o3", "o5"]
    assert ladder(host) == [("buy", Decimal(90)), ("buy", Decimal(95)), ("sell", Decimal(105))]
    assert grid.mode == "active" and grid.holdings == {2}  # the sell at 105 sells a level bought at 100
    await engine.on_trade(tick("101"))
    assert host.sent == []


async def test_a_grid_with_new_levels_cancels_the_old_ladder_and_rebuilds(db: Database, clock: SimClock) -> None:
    host = FakeHost(clock)
    engine, old = await start(db, host)
    await engine.on_trade(tick("101"))
    old.holdings = {1}  # a level bought at 95
    await engine.context("g").save_state()
    old_ids = set(host.working)

    engine, grid = await start(db, host, {**PARAMS, "levels": 3})  # 90, 100, 110
    assert set(host.canceled) == old_ids and grid.mode == "waiting" and grid.holdings == {0}
    await engine.on_trade(tick("101"))
    assert ladder(host) == [("buy", Decimal(100)), ("sell", Decimal(110))]  # 90 is held: its sale, no buy


async def test_a_close_the_stop_interrupted_is_finished_at_start(db: Database, clock: SimClock) -> None:
    host = FakeHost(clock)
    await db.record_fill(Fill(fill_id="f1", client_order_id="b", venue="paper", symbol="BTC/USDT", side=Side.BUY,
                              price=Decimal(95), size=Decimal(2), strategy_id="g"))
    saved = {"grid": [90.0, 110.0, 5, "arithmetic"], "mode": "closed", "holdings": [], "round_trips": 0, "ladder": {}}
    await db.set_state(STATE_KEY + "g", json.dumps(saved))
    await start(db, host, {**PARAMS, "out_of_range": "close"})
    (sale,) = host.sent
    assert (sale.type, sale.side, sale.size) == (OrderType.MARKET, Side.SELL, Decimal(2))


class SlowHost(FakeHost):
    """Each order takes a few turns of the loop to be accepted, as a venue's answer does."""

    async def submit(self, request: OrderRequest) -> Order:
        for _ in range(5):
            await asyncio.sleep(0)
        return await super().submit(request)


async def test_a_clean_stop_lets_the_grid_finish_sending_its_ladder(clock: SimClock) -> None:
    host = SlowHost(clock)
    strategies = LiveStrategies(StrategyEngine(host), {"g": StrategyConfig(  # type: ignore[call-arg]
        kind="grid", enabled=True, lower=90, upper=110, levels=5, order_size=1)})
    await strategies.start()
    host.bus.publish(TradePrinted(tick("101")))
    while not host.sent:
        await asyncio.sleep(0)
    await strategies.stop()  # with two of its three orders still to send
    assert ladder(host) == [("buy", Decimal(90)), ("buy", Decimal(95)), ("buy", Decimal(100))]
