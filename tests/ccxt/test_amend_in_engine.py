"""The engine modifies an order in place on a venue that amends natively (Binance USDⓈ-M on the
fake server): one Modify Order request, no cancel, the same client order id, and the change a
row and an event like any other; a refused amend leaves the order as it was and says why."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core.config import parse_config
from core.engine import TradingEngine
from core.events import OrderBookUpdated, OrderUpdated
from core.executor import OrderRefused
from core.models import OrderBook, OrderRequest, OrderStatus, OrderType, Side
from runtime.wiring import build_engine
from tests.ccxt.conftest import AutoClock
from tests.ccxt.fakes import install_binanceusdm

PERP = "BTC/USDT:USDT"
D = Decimal


LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
USDM_ACCOUNT = {  # GET /fapi/v3/account, as Binance answers it for a fresh account
    "totalInitialMargin": "0.00000000", "totalMaintMargin": "0.00000000", "totalWalletBalance": "10000.00000000",
    "totalUnrealizedProfit": "0.00000000", "totalMarginBalance": "10000.00000000", "totalPositionInitialMargin": "0.00000000",
    "totalOpenOrderInitialMargin": "0.00000000", "totalCrossWalletBalance": "10000.00000000",
    "totalCrossUnPnl": "0.00000000", "availableBalance": "10000.00000000", "maxWithdrawAmount": "10000.00000000",
    "assets": [{"asset": "USDT", "walletBalance": "10000.00000000", "unrealizedProfit": "0.00000000",
                "marginBalance": "10000.00000000", "maintMargin": "0.00000000", "initialMargin": "0.00000000",
                "positionInitialMargin": "0.00000000", "openOrderInitialMargin": "0.00000000",
                "crossWalletBalance": "10000.00000000", "crossUnPnl": "0.00000000", "availableBalance": "10000.00000000",
                "maxWithdrawAmount": "10000.00000000", "updateTime": 1704067200000}],
    "positions": [],
}


async def live_engine(server, tmp_path, monkeypatch: pytest.MonkeyPatch) -> TradingEngine:
    server.route("GET", "/fapi/v3/account", lambda _req: USDM_ACCOUNT)
    server.route("POST", "/fapi/v1/listenKey", lambda _req: {"listenKey": LISTEN_KEY})
    monkeypatch.setenv("OPENTRADE_BN_API_KEY", "key")
    monkeypatch.setenv("OPENTRADE_BN_SECRET", "secret")
    config = parse_config(f"""
default_venue: bn
strategies: {{}}
agents: {{enabled: false}}
# The clock runs on through the venue's stream retries (the fake serves no futures websocket),
# by more the busier the machine; this test is about the amend, not the stale-feed breaker.
circuit_breakers: {{stale_feed_seconds: 86400}}
venues:
  bn:
    type: binanceusdm
    mode: live
    markets: [{PERP}]
    api_urls: {{"*": "{server.url}"}}
    timeout_ms: 300
    options: {{rateLimit: 1}}
""")
    engine = await build_engine(config, tmp_path / "home", clock=AutoClock(start_ms=1_704_067_200_000))
    await engine.start()
    engine.venues["bn"].confirm_live()
    await fresh_book(engine)
    return engine


async def fresh_book(engine: TradingEngine) -> None:
    """The market as a stream would bring it (the fake serves no futures websocket), stamped now:
    the engine's clock runs on through the venue's retries, and a stale feed halts new orders."""
    now = engine.clock.now_ms()
    engine.bus.publish(OrderBookUpdated(OrderBook(venue="bn", symbol=PERP, ts=now, bids=[(D("42000"), D("5"))],
                                                  asks=[(D("42000.5"), D("5"))])))
    async with asyncio.timeout(10):
        while engine.market.book("bn", PERP) is None or engine.market.book("bn", PERP).ts != now:  # type: ignore[union-attr]
            await asyncio.sleep(0.01)


async def test_a_modify_is_one_amend_with_its_row_and_event(server, tmp_path, monkeypatch) -> None:
    orders, _ = install_binanceusdm(server)
    engine = await live_engine(server, tmp_path, monkeypatch)
    try:
        order = await engine.place_order(OrderRequest(venue="bn", symbol=PERP, side=Side.BUY, type=OrderType.LIMIT,
                                                      size=D("0.003"), price=D("41000")))
        updates = engine.bus.subscribe(OrderUpdated)
        await fresh_book(engine)
        changed = await engine.modify_order(order.client_order_id, price=D("41500"), size=D("0.004"))
        assert changed.client_order_id == order.client_order_id and changed.status is OrderStatus.OPEN
        assert (changed.price, changed.size) == (D("41500"), D("0.004"))
        assert len(server.calls("PUT", "/fapi/v1/order")) == 1 and server.calls("DELETE", "/fapi/v1/order") == []
        assert [(e.order.price, e.order.size) for e in updates.drain()][:1] == [(D("41500"), D("0.004"))]
        await engine.orders.flush()
        events = await engine.db.order_events(order.client_order_id)
        assert [e["detail"] for e in events if e["event"] == "amended"] == ["price 41000 -> 41500.0, size 0.003 -> 0.004"]
        assert [o.client_order_id for o in engine.orders.open_orders()] == [order.client_order_id]
    finally:
        await engine.stop()
        await engine.close()


async def test_an_amend_the_exchange_refuses_leaves_the_order_and_says_why(server, tmp_path, monkeypatch) -> None:
    orders, _ = install_binanceusdm(server)
    orders.margin_cap = Decimal(150)
    engine = await live_engine(server, tmp_path, monkeypatch)
    try:
        order = await engine.place_order(OrderRequest(venue="bn", symbol=PERP, side=Side.BUY, type=OrderType.LIMIT,
                                                      size=D("0.003"), price=D("41000")))
        await fresh_book(engine)
        with pytest.raises(OrderRefused, match="refused the amend of .*Margin is insufficient"):
            await engine.modify_order(order.client_order_id, size=D("0.005"))
        kept = engine.orders.track_order(order.client_order_id)
        assert kept is not None and kept.is_open and kept.size == D("0.003")
        assert server.calls("DELETE", "/fapi/v1/order") == []
    finally:
        await engine.stop()
        await engine.close()
