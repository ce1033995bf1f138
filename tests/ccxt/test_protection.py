"""Protective levels at the exchange, through the whole engine against the Bybit-format server:
reduce-only stop-market and take-profit orders for the perpetual position (recorded in
position_list.json: long 0.015 BTCUSDT), written before they are sent; an edit replaces only
the level that moved; when one fills the other is canceled. Spot stays engine-side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.config import AppConfig, parse_config
from core.engine import TradingEngine
from core.events import RiskAlert
from core.models import LevelPlacement, OrderStatus, OrderType
from runtime.wiring import build_engine
from tests.ccxt.conftest import AutoClock
from tests.ccxt.fakes import BybitOrders, install_bybit
from tests.ccxt.server import FakeExchange
from tests.ccxt.ws_bybit import BybitStream

PERP = "BTC/USDT:USDT"
D = Decimal


async def until(condition: Callable[[], Any]) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.005)


def bybit_config(server: FakeExchange) -> AppConfig:
    return parse_config(f"""
default_venue: bybit
strategies: {{}}
venues:
  bybit:
    exchange: bybit
    mode: live
    markets: [BTC/USDT, {PERP}]
    api_urls: {{"*": "{server.url}"}}
    timeout_ms: 300
    poll_interval: 1
    options: {{rateLimit: 1}}
""")


async def start(server: FakeExchange, clock: AutoClock, home: Path) -> TradingEngine:
    engine = await build_engine(bybit_config(server), home, clock=clock)
    engine.venues["bybit"].confirm_live()
    await engine.start()
    return engine


@pytest.fixture
async def live(server: FakeExchange, clock: AutoClock, tmp_path: Path,
               credentials: Any) -> AsyncIterator[tuple[TradingEngine, BybitOrders]]:
    orders = install_bybit(server)
    BybitStream(server)
    credentials("bybit")
    engine = await start(server, clock, tmp_path / "home")
    try:
        yield engine, orders
    finally:
        await engine.close()


def created(server: FakeExchange) -> list[dict[str, Any]]:
    return [r.params for r in server.calls("POST", "/v5/order/create")]


async def test_levels_become_reduce_only_orders_and_the_other_is_canceled_when_one_fills(
    live: tuple[TradingEngine, BybitOrders], server: FakeExchange
) -> None:
    engine, orders = live
    alerts = engine.bus.subscribe(RiskAlert)
    assert engine.venues["bybit"].holds_protective_orders(PERP)
    levels = await engine.set_protection("bybit", PERP, stop_loss=D("40000"), take_profit=D("45000"))
    assert levels is not None and levels.placement is LevelPlacement.EXCHANGE
    stop, take = created(server)
    assert (stop["orderLinkId"], take["orderLinkId"]) == (levels.stop_loss_order, levels.take_profit_order)
    for sent, trigger, direction in ((stop, "40000", 2), (take, "45000", 1)):
        assert (sent["side"], sent["orderType"], sent["qty"], sent["category"]) == ("Sell", "Market", "0.015", "linear")
        assert sent["reduceOnly"] is True and sent["triggerPrice"] == trigger and sent["triggerDirection"] == direction
    for coid, kind in ((levels.stop_loss_order, OrderType.STOP_MARKET), (levels.take_profit_order, OrderType.TAKE_PROFIT)):
        assert coid is not None
        history = [e["event"] for e in await engine.db.order_events(coid)]
        assert history[0] == "created", "written before it was sent"
        order = engine.orders.track_order(coid)
        assert order is not None and order.type is kind and order.reduce_only and order.status is OrderStatus.OPEN

    moved = await engine.set_protection("bybit", PERP, stop_loss=D("40500"), take_profit=D("45000"))
    assert moved is not None and moved.take_profit_order == levels.take_profit_order
    assert moved.stop_loss_order != levels.stop_loss_order
    assert [p["triggerPrice"] for p in created(server)] == ["40000", "45000", "40500"]
    [canceled] = server.calls("POST", "/v5/order/cancel")
    assert canceled.params["orderLinkId"] == levels.stop_loss_order

    assert moved.stop_loss_order is not None and moved.take_profit_order is not None
    orders.trigger(moved.stop_loss_order, "40490")
    await until(lambda: engine.protection.levels("bybit", PERP) is None)
    await engine.protection.drain()
    cancels = [r.params["orderLinkId"] for r in server.calls("POST", "/v5/order/cancel")]
    assert cancels == [levels.stop_loss_order, moved.take_profit_order]
    assert orders.orders[moved.take_profit_order]["orderStatus"] == "Deactivated"
    fills = await engine.fills(client_order_id=moved.stop_loss_order)
    assert [(f.size, f.price) for f in fills] == [(D("0.015"), D("40490"))]
    assert any(a.message.endswith("stop-loss filled at bybit, 0.015 at 40,490.00; its take-profit at 45,000.00 is canceled")
               for a in alerts.drain())
    [last] = (await engine.db.audit_entries(kind="protection"))[-1:]
    assert last.payload["new"] is None and last.payload["reason"] == "stop-loss filled at bybit"
    assert server.unknown == []


async def test_spot_levels_stay_engine_side_on_the_same_exchange(live: tuple[TradingEngine, BybitOrders]) -> None:
    engine, _ = live
    assert not engine.venues["bybit"].holds_protective_orders("BTC/USDT")


async def test_levels_the_exchange_refuses_are_watched_engine_side_with_an_alert(
    live: tuple[TradingEngine, BybitOrders], server: FakeExchange
) -> None:
    engine, orders = live
    alerts = engine.bus.subscribe(RiskAlert)
    accept = server.routes[("POST", "/v5/order/create")]
    refusal = {"retCode": 110092, "retMsg": "expect Rising, but trigger_price[450000000] <= current[460000000]",
               "result": {}, "retExtInfo": {}, "time": 1704067200020}
    server.route("POST", "/v5/order/create", lambda r: refusal if r.params.get("triggerDirection") == 1 else accept(r))
    levels = await engine.set_protection("bybit", PERP, stop_loss=D("40000"), take_profit=D("45000"))
    assert levels is not None and levels.placement is LevelPlacement.ENGINE
    assert (levels.stop_loss_order, levels.take_profit_order) == (None, None)
    assert [o["orderStatus"] for o in orders.orders.values()] == ["Deactivated"], "the stop placed first is canceled"
    [alert] = [a for a in alerts.drain() if a.rule == "protection_engine_side"]
    assert "bybit refused the take-profit order" in alert.message and "watched engine-side" in alert.message
    assert engine.protection.watched() == [levels]


async def test_exchange_levels_are_restored_and_one_canceled_while_away_is_reported(
    server: FakeExchange, clock: AutoClock, tmp_path: Path, credentials: Any
) -> None:
    orders = install_bybit(server)
    BybitStream(server)
    credentials("bybit")
    engine = await start(server, clock, tmp_path / "home")
    try:
        levels = await engine.set_protection("bybit", PERP, stop_loss=D("40000"), take_profit=D("45000"))
    finally:
        await engine.close()
    assert levels is not None and levels.take_profit_order is not None
    orders.orders[levels.take_profit_order]["orderStatus"] = "Deactivated"  # canceled on the exchange's website
    engine = await start(server, clock, tmp_path / "home")
    try:
        restored = engine.protection.levels("bybit", PERP)
        assert restored is not None and restored.placement is LevelPlacement.EXCHANGE
        assert (restored.stop_loss, restored.stop_loss_order) == (D("40000"), levels.stop_loss_order)
        assert (restored.take_profit, restored.take_profit_order) == (None, None)
        assert engine.protection.watched() == [], "exchange-side levels need no watching"
        [lost] = [a for a in engine.recent_alerts() if a.rule == "protection_lost"]
        assert lost.message == ("BTC/USDT:USDT long: its take-profit order at 45,000.00 is no longer working at the "
                                "exchange (found at start-up); the position has no take-profit now")
    finally:
        await engine.close()
