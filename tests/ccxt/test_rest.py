"""Binance, OKX and Bybit through ccxt against the fake server, each answering in its own real
format: markets, book, trades, candles, balance, orders by client order id, perpetual positions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.models import ContractType, Order, OrderStatus, OrderType, PositionSide, Side
from core.ports import OrderNotFound
from tests.ccxt.fakes import INSTALLERS

EXCHANGES = ["binance", "okx", "bybit"]
# (exchange) -> where the create request carries the client order id, and its wire form
CREATE = {
    "binance": ("POST", "/api/v3/order", "newClientOrderId", "ot-0123456789abcdef01234567"),
    "okx": ("POST", "/api/v5/trade/batch-orders", "clOrdId", "ot0123456789abcdef01234567"),
    "bybit": ("POST", "/v5/order/create", "orderLinkId", "ot-0123456789abcdef01234567"),
}
PERP_SIZE = {"binance": Decimal("0.015"), "okx": Decimal("1.5"), "bybit": Decimal("0.015")}


def order(exchange: str, symbol: str = "BTC/USDT", **kw: object) -> Order:
    return Order(client_order_id="ot-0123456789abcdef01234567", venue=exchange, symbol=symbol, side=Side.BUY,
                 type=OrderType.LIMIT, size=Decimal("0.01"), price=Decimal("41000"), **kw)


@pytest.fixture(params=EXCHANGES)
async def venue(request, server, make_venue):
    INSTALLERS[request.param](server)
    venue = make_venue(request.param, markets=["BTC/USDT", "BTC/USDT:USDT"])
    await venue.load_instruments()
    yield venue
    assert server.unknown == [], f"requests without a fixture: {server.unknown}"


async def test_spot_and_perpetual_instruments(venue) -> None:
    spot, perp = venue.instrument("BTC/USDT"), venue.instrument("BTC/USDT:USDT")
    assert spot.contract_type is ContractType.SPOT and (spot.base, spot.quote) == ("BTC", "USDT")
    assert perp.contract_type is ContractType.LINEAR_PERPETUAL
    assert spot.tick_size in (Decimal("0.01"), Decimal("0.1")) and perp.tick_size == Decimal("0.1")
    assert spot.min_size > 0 and perp.min_size > 0


async def test_public_market_data(venue) -> None:
    book = await venue.fetch_order_book("BTC/USDT", 5)
    assert book.best_bid == Decimal("42000") and book.best_ask in (Decimal("42000.01"), Decimal("42000.1"))
    assert book.bids[1][1] == Decimal("1.2") and book.asks[1] == (Decimal("42000.5"), Decimal("0.75"))
    trades = await venue.fetch_trades("BTC/USDT")
    assert [t.side for t in sorted(trades, key=lambda t: t.ts)] == [Side.SELL, Side.BUY, Side.BUY]
    assert sorted(t.size for t in trades) == [Decimal("0.0012"), Decimal("0.01"), Decimal("0.05")]
    candles = await venue.fetch_ohlcv("BTC/USDT", "1m", limit=2)
    assert [(c.ts, c.high, c.close) for c in candles] == [
        (1704067080000, 42010.0, 42001.0), (1704067140000, 42005.0, 42000.0)]


async def test_balances(venue) -> None:
    balances = {b.asset: b for b in await venue.fetch_balances()}
    assert balances["USDT"].free == Decimal("10500.12") and balances["USDT"].used == Decimal("420")
    assert balances["BTC"].total == Decimal("0.26")


async def test_create_fetch_cancel_by_client_order_id(venue, server) -> None:
    exchange = venue.config.exchange
    method, path, field, wire = CREATE[exchange]
    ack = await venue.create_order(order(exchange))
    assert ack.status is OrderStatus.OPEN and ack.client_order_id == "ot-0123456789abcdef01234567"
    [sent] = server.calls(method, path)
    assert field in sent.body and wire in sent.body or sent.params.get(field) == wire
    found = await venue.fetch_order("ot-0123456789abcdef01234567", "BTC/USDT")
    assert found is not None and found.status is OrderStatus.OPEN and found.venue_order_id == ack.venue_order_id
    [listed] = await venue.fetch_open_orders()
    assert listed.client_order_id == "ot-0123456789abcdef01234567"
    canceled = await venue.cancel_order("ot-0123456789abcdef01234567", "BTC/USDT")
    assert canceled.status is OrderStatus.CANCELED
    assert await venue.fetch_open_orders() == []
    assert await venue.fetch_order("ot-ffffffffffffffffffffffff", "BTC/USDT") is None
    with pytest.raises(OrderNotFound):
        await venue.cancel_order("ot-ffffffffffffffffffffffff", "BTC/USDT")


async def test_perpetual_position(venue) -> None:
    [position] = await venue.fetch_positions()
    assert position.symbol == "BTC/USDT:USDT" and position.side is PositionSide.LONG
    assert position.size == PERP_SIZE[venue.config.exchange]
    assert position.entry_price == Decimal("41500") and position.unrealized_pnl == Decimal("7.5")
    assert position.mark_price == Decimal("42000")
