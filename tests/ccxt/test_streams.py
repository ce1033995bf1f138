"""Streaming through ccxt.pro against a local Binance-format websocket: book deltas applied by
sequence id, trades and tickers on the bus, reconnect after a dropped socket, REST polling when
the websocket keeps failing, own orders followed by polling, and the connection state the app shows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from core.events import (
    ConnectionChanged,
    Event,
    EventBus,
    ExecutionReported,
    OrderBookUpdated,
    TickerUpdated,
    TradePrinted,
)
from core.models import Order, OrderStatus, OrderType, Side
from tests.ccxt.fakes import install_binance, install_bybit
from tests.ccxt.ws_binance import BinanceStream
from tests.ccxt.ws_bybit import BybitStream


async def until(sub, predicate: Callable[[Event], bool], seen: list[Event], timeout: float = 10.0) -> Event:
    """The first event, among those already seen and those to come, matching ``predicate``
    (the timeout is a safety net only: the events drive the test)."""
    for event in seen:
        if predicate(event):
            return event
    async with asyncio.timeout(timeout):
        while True:
            event = await sub.get()
            seen.append(event)
            if predicate(event):
                return event


def spot_ws(server) -> dict[str, str]:
    """ccxt.pro tells Binance spot sockets from futures ones by '/stream' in the URL (the real
    host is stream.binance.com), so the local socket keeps that in its path."""
    return {"ws.spot": server.url.replace("http://", "ws://") + "/stream/ws"}


def is_book_after_deltas(event: Event) -> bool:
    return isinstance(event, OrderBookUpdated) and event.book.best_ask == Decimal("42000.5")


async def test_websocket_book_trades_and_ticker_reach_the_bus(server, make_venue) -> None:
    install_binance(server)
    stream = BinanceStream(server)
    venue = make_venue("binance", mode="paper", api_urls=spot_ws(server))
    bus = EventBus()
    sub = bus.subscribe(maxsize=10_000)
    await venue.start(bus)
    seen: list[Event] = []
    book = (await until(sub, is_book_after_deltas, seen)).book
    assert book.bids[:2] == [(Decimal("42000"), Decimal("0.6")), (Decimal("41999.5"), Decimal("0.008"))]
    trade = (await until(sub, lambda e: isinstance(e, TradePrinted), seen)).trade
    assert (trade.price, trade.size, trade.trade_id) == (Decimal("42000.01"), Decimal("0.02"), "3512000200")
    ticker = (await until(sub, lambda e: isinstance(e, TickerUpdated), seen)).ticker
    assert ticker.last == Decimal("42000.01") and ticker.volume_24h == Decimal("18211.1")
    await until(sub, lambda e: isinstance(e, ConnectionChanged) and e.state == "connected", seen)
    assert venue.connection_state == "connected"
    assert {"btcusdt@depth", "btcusdt@trade"} <= {s.split("@100ms")[0] for s in stream.subscriptions}
    assert server.calls("GET", "/api/v3/account") == [] and server.calls("POST", "/api/v3/order") == []
    await venue.stop()
    assert isinstance(seen[-1], ConnectionChanged) or venue.connection_state == "disconnected"


async def test_dropped_websocket_reconnects_and_the_state_shows_it(server, make_venue) -> None:
    install_binance(server)
    stream = BinanceStream(server, drop_first=True)
    venue = make_venue("binance", mode="paper", api_urls=spot_ws(server))
    bus = EventBus()
    sub = bus.subscribe(maxsize=10_000)
    await venue.start(bus)
    seen: list[Event] = []
    down = await until(sub, lambda e: isinstance(e, ConnectionChanged) and e.state in ("degraded", "disconnected"), seen)
    after = seen[seen.index(down) + 1:]
    await until(sub, lambda e: isinstance(e, ConnectionChanged) and e.state == "connected", after)
    await until(sub, is_book_after_deltas, after)
    assert stream.connections >= 2
    states = [e.state for e in seen[:seen.index(down) + 1] + after if isinstance(e, ConnectionChanged)]
    assert states[-1] == "connected" and any(s in ("degraded", "disconnected") for s in states)
    await venue.stop()


async def test_websocket_that_keeps_failing_falls_back_to_polling(server, make_venue) -> None:
    install_binance(server)
    BinanceStream(server, refuse=True)
    venue = make_venue("binance", mode="paper", api_urls=spot_ws(server))
    bus = EventBus()
    sub = bus.subscribe(maxsize=10_000)
    await venue.start(bus)
    seen: list[Event] = []
    book = (await until(sub, lambda e: isinstance(e, OrderBookUpdated), seen)).book
    assert book.best_bid == Decimal("42000") and book.best_ask == Decimal("42000.01")
    polling = await until(sub, lambda e: isinstance(e, ConnectionChanged) and e.state == "connected", seen)
    assert "polling" in polling.detail
    assert len(server.calls("GET", "/api/v3/depth")) >= 1
    await venue.stop()


async def test_own_orders_are_followed_by_polling_when_there_is_no_user_stream(server, make_venue) -> None:
    orders = install_binance(server)
    BinanceStream(server)
    venue = make_venue("binance", api_urls=spot_ws(server))
    bus = EventBus()
    sub = bus.subscribe(ExecutionReported, maxsize=10_000)
    await venue.start(bus)
    ack = await venue.create_order(Order(
        client_order_id="ot-0123456789abcdef01234567", venue="binance", symbol="BTC/USDT", side=Side.BUY,
        type=OrderType.LIMIT, size=Decimal("0.01"), price=Decimal("42000.01")))
    assert ack.status is OrderStatus.OPEN
    resting = orders.orders["ot-0123456789abcdef01234567"]
    resting.update(status="FILLED", executedQty="0.01000000", cummulativeQuoteQty="420.00010000")
    seen: list[Event] = []
    filled = (await until(sub, lambda e: e.report.status is OrderStatus.FILLED, seen)).report
    assert filled.fill is not None and filled.fill.price == Decimal("42000.01") and filled.fill.size == Decimal("0.01")
    assert "ot-0123456789abcdef01234567" not in venue.tracker.open
    await venue.stop()


async def test_bybit_recorded_book_matches_the_local_book_applied_by_sequence(server, make_venue) -> None:
    install_bybit(server)
    stream = BybitStream(server)
    venue = make_venue("bybit", mode="paper", markets=["XRP/USDT:USDT"])
    bus = EventBus()
    sub = bus.subscribe(OrderBookUpdated, maxsize=10_000)
    sides: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
    for message in stream.messages:  # the recorded book, applied in order (a size of 0 removes)
        if message["type"] == "snapshot":
            sides = {"b": {}, "a": {}}
        for side, levels in sides.items():
            for price, size in message["data"][side]:
                levels[Decimal(price)] = Decimal(size)
                if not Decimal(size):
                    del levels[Decimal(price)]
    last_ts = stream.messages[-1]["ts"]
    await venue.start(bus)
    async with asyncio.timeout(10):
        while True:
            book = (await sub.get()).book
            if book.ts == last_ts:
                break
    assert book.bids == sorted(sides["b"].items(), reverse=True)[:20]
    assert book.asks == sorted(sides["a"].items())[:20]
    assert any(topic.startswith("orderbook.") for topic in stream.topics)
    await venue.stop()


async def test_polled_trades_are_published_once(server, make_venue) -> None:
    install_binance(server)
    BinanceStream(server, refuse=True)
    venue = make_venue("binance", mode="paper", api_urls=spot_ws(server))
    bus = EventBus()
    sub = bus.subscribe(TradePrinted, maxsize=10_000)
    await venue.start(bus)
    async with asyncio.timeout(10):
        while len(server.calls("GET", "/api/v3/aggTrades")) < 3:
            await asyncio.sleep(0.01)
    trades = [e.trade.trade_id for e in sub.drain()]
    assert trades == ["3344151050", "3344151051", "3344151052"]
    await venue.stop()


async def test_a_sequence_gap_rebuilds_the_book_from_a_new_snapshot(server, make_venue) -> None:
    install_binance(server)
    stream = BinanceStream(server)
    venue = make_venue("binance", mode="paper", api_urls=spot_ws(server))
    bus = EventBus()
    sub = bus.subscribe(maxsize=10_000)
    await venue.start(bus)
    seen: list[Event] = []
    await until(sub, is_book_after_deltas, seen)
    await stream.push_gap()
    gap = await until(sub, lambda e: isinstance(e, ConnectionChanged) and e.state != "connected"
                      and "book:BTC/USDT" in e.detail, seen)
    after = seen[seen.index(gap) + 1:]
    book = (await until(sub, is_book_after_deltas, after)).book
    assert all(price != Decimal("41000") for price, _ in book.bids)
    assert len(server.calls("GET", "/api/v3/depth")) == 2
    await venue.stop()
