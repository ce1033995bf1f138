"""Paper trading on live data: the simulated account fills against the live book through the
matching engine, and a paper venue never sends a private request."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core.config import CcxtVenueConfig
from core.events import EventBus, ExecutionReported, OrderBookUpdated, PositionChanged, RiskAlert
from core.models import (
    ContractType,
    Instrument,
    Liquidity,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    Trade,
)
from core.ports import OrderNotFound
from exchanges.ccxt import CcxtVenue
from exchanges.ccxt.paper import PaperAccount
from tests.ccxt.fakes import install_binance
from tests.ccxt.ws_binance import BinanceStream

D = Decimal
SPOT = Instrument(venue="binance", symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=D("0.01"),
                  lot_size=D("0.00001"), maker_fee=D("0.001"), taker_fee=D("0.001"))
PERP = Instrument(venue="binance", symbol="BTC/USDT:USDT", base="BTC", quote="USDT",
                  contract_type=ContractType.LINEAR_PERPETUAL, tick_size=D("0.1"), lot_size=D("0.001"),
                  maker_fee=D("0.0002"), taker_fee=D("0.0005"), max_leverage=20)


def live_book(symbol: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> OrderBook:
    return OrderBook(venue="binance", symbol=symbol, ts=1,
                     bids=[(D(p), D(q)) for p, q in bids], asks=[(D(p), D(q)) for p, q in asks])


def order(coid: str, side: Side, size: str, type: OrderType = OrderType.MARKET, price: str | None = None,
          symbol: str = "BTC/USDT", **kw: object) -> Order:
    return Order(client_order_id=coid, venue="binance", symbol=symbol, side=side, type=type, size=D(size),
                 price=D(price) if price else None, **kw)


@pytest.fixture
def account(clock) -> tuple[PaperAccount, EventBus]:
    bus = EventBus()
    paper = PaperAccount("binance", {"USDT": D("100000")}, clock)
    paper.attach(bus, {"BTC/USDT": SPOT, "BTC/USDT:USDT": PERP})
    paper.on_book(live_book("BTC/USDT", [("42000.00", "0.5"), ("41999.00", "1")],
                            [("42000.01", "0.3"), ("42000.50", "0.75")]))
    return paper, bus


def test_market_order_walks_the_live_book_and_pays_fees(account) -> None:
    paper, _ = account
    report = paper.submit(order("ot-1", Side.BUY, "0.5"))
    assert report.status is OrderStatus.FILLED and report.filled_size == D("0.5")
    notional = D("0.3") * D("42000.01") + D("0.2") * D("42000.50")
    assert report.avg_price == notional / D("0.5")  # exact, as every simulated exchange has it (was rounded to the tick)
    balances = {b.asset: b for b in paper.balances()}
    assert balances["BTC"].free == D("0.5")
    assert balances["USDT"].free == D("100000") - notional - notional * D("0.001")


def test_resting_limit_fills_at_its_price_when_the_live_book_moves_through_it(account) -> None:
    paper, bus = account
    sub = bus.subscribe(ExecutionReported)
    ack = paper.submit(order("ot-2", Side.BUY, "0.1", OrderType.LIMIT, "41990.00"))
    assert ack.status is OrderStatus.OPEN
    assert {b.asset: b.used for b in paper.balances()}["USDT"] == D("0.1") * D("41990") * D("1.001")
    paper.on_book(live_book("BTC/USDT", [("41980.00", "1")], [("41985.00", "2")]))
    reports = [e.report for e in sub.drain() if isinstance(e, ExecutionReported)]
    filled = [r for r in reports if r.fill is not None]
    assert filled and filled[-1].status is OrderStatus.FILLED
    fill = filled[-1].fill
    assert (fill.price, fill.size, fill.liquidity) == (D("41990.00"), D("0.1"), Liquidity.MAKER)
    assert paper.open_orders() == []


def test_an_unchanged_live_level_fills_again_a_resting_order_that_swept_it(account) -> None:
    """The live book does not see paper trades: each of its updates restores the levels our
    orders took, and a level that comes back through our resting order fills it, although
    the live book did not change there (only the bids did)."""
    paper, bus = account
    sub = bus.subscribe(ExecutionReported)
    ack = paper.submit(order("ot-9", Side.BUY, "2", OrderType.LIMIT, "42000.50"))
    assert (ack.status, ack.filled_size) == (OrderStatus.PARTIALLY_FILLED, D("1.05"))  # both asks taken
    sub.drain()
    paper.on_book(live_book("BTC/USDT", [("42000.00", "0.7"), ("41999.00", "1")],
                            [("42000.01", "0.3"), ("42000.50", "0.75")]))
    fills = [e.report.fill for e in sub.drain() if isinstance(e, ExecutionReported) and e.report.fill is not None]
    assert [(f.price, f.size, f.liquidity) for f in fills] == [(D("42000.50"), D("0.3"), Liquidity.MAKER),
                                                              (D("42000.50"), D("0.65"), Liquidity.MAKER)]
    assert paper.order("ot-9").status is OrderStatus.FILLED


def test_cancel_and_lookup(account) -> None:
    paper, _ = account
    paper.submit(order("ot-3", Side.BUY, "0.1", OrderType.LIMIT, "41000.00"))
    assert [r.client_order_id for r in paper.open_orders()] == ["ot-3"]
    assert paper.cancel("ot-3").status is OrderStatus.CANCELED
    assert paper.order("ot-3").status is OrderStatus.CANCELED
    assert paper.order("ot-none") is None
    with pytest.raises(OrderNotFound):
        paper.cancel("ot-none")


def test_insufficient_funds_is_rejected_with_the_numbers(account) -> None:
    paper, _ = account
    report = paper.submit(order("ot-4", Side.SELL, "1"))
    assert report.status is OrderStatus.REJECTED
    assert report.reason == "insufficient BTC balance: the order needs 1, 0 is free"


def test_perpetual_round_trip_realises_pnl(account) -> None:
    paper, _ = account
    paper.on_book(live_book("BTC/USDT:USDT", [("42000.0", "5")], [("42000.1", "5")]))
    paper.submit(order("ot-5", Side.BUY, "1.000", symbol="BTC/USDT:USDT", leverage=10))
    [position] = paper.positions()
    assert (position.side, position.size, position.entry_price) == (PositionSide.LONG, D("1"), D("42000.1"))
    paper.on_book(live_book("BTC/USDT:USDT", [("42100.0", "5")], [("42100.1", "5")]))
    refused = paper.submit(order("ot-5b", Side.SELL, "2.000", symbol="BTC/USDT:USDT", reduce_only=True))
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason == "reduce-only order rejected: size 2.000 exceeds the position's 1.000"
    paper.submit(order("ot-6", Side.SELL, "1.000", symbol="BTC/USDT:USDT", reduce_only=True))
    assert paper.positions() == []
    usdt = {b.asset: b for b in paper.balances()}["USDT"].free
    fees = (D("42000.1") + D("42100.0")) * D("0.0005")
    assert usdt == D("100000") + D("99.9") - fees


def test_stop_order_fires_on_a_live_trade(account) -> None:
    paper, _ = account
    paper.submit(order("ot-7", Side.BUY, "0.2"))
    stop = paper.submit(order("ot-8", Side.SELL, "0.2", OrderType.STOP_MARKET, trigger_price=D("41500.00")))
    assert stop.status is OrderStatus.OPEN
    paper.on_trade(Trade(venue="binance", symbol="BTC/USDT", ts=2, price=D("41499.00"), size=D("1"), side=Side.SELL))
    assert paper.order("ot-8").status is OrderStatus.FILLED
    assert paper.order("ot-8").avg_price == D("42000.00")


def test_paper_venue_never_hands_credentials_to_ccxt(clock, credentials, tmp_path) -> None:
    venue = CcxtVenue("binance", CcxtVenueConfig(exchange="binance", mode="paper"), clock, tmp_path,
                      credentials("binance"), live_confirmed=True)
    assert not venue.exchange.apiKey and not venue.exchange.secret


async def test_paper_venue_fills_against_the_streamed_book_without_private_requests(server, make_venue) -> None:
    install_binance(server)
    BinanceStream(server)
    venue = make_venue("binance", mode="paper",
                       api_urls={"ws.spot": server.url.replace("http://", "ws://") + "/stream/ws"})
    bus = EventBus()
    sub = bus.subscribe(OrderBookUpdated)
    await venue.start(bus)
    async with asyncio.timeout(10):
        while (await sub.get()).book.best_ask != D("42000.5"):
            pass
    report = await venue.create_order(order("ot-9", Side.BUY, "0.5"))
    assert report.status is OrderStatus.FILLED and report.avg_price == D("42000.50")
    assert {b.asset: b.free for b in await venue.fetch_balances()}["BTC"] == D("0.5")
    assert await venue.fetch_positions() == []
    private = [r.path for r in server.requests if "signature" in r.query or "X-MBX-APIKEY" in r.headers]
    assert private == []
    await venue.stop()


def test_perpetual_margin_is_held_and_a_live_trade_through_the_liquidation_price_liquidates(account) -> None:
    """The same simulated exchange as the paper venue's: the ccxt paper mode held no margin for a
    position, reported none, and never liquidated (a 20x long could lose more than it put up)."""
    paper, bus = account
    events = bus.subscribe(PositionChanged, RiskAlert)
    paper.on_book(live_book("BTC/USDT:USDT", [("42000.0", "5")], [("42000.1", "5")]))
    opened = paper.submit(order("ot-l", Side.BUY, "1.000", symbol="BTC/USDT:USDT", leverage=20))
    [position] = paper.positions()
    margin = D("42000.1") / 20
    assert (position.leverage, position.margin) == (20, margin)
    assert position.liquidation_price == D("42000.1") * D("0.95") / D("0.995")
    paper.submit(order("ot-x", Side.SELL, "1.000", OrderType.LIMIT, "45000.0", symbol="BTC/USDT:USDT", reduce_only=True))
    fee_held = D("45000.0") * D("0.0005")  # a reduce-only order holds its fee, no margin
    assert {b.asset: b.used for b in paper.balances()}["USDT"] == margin + fee_held
    paper.on_trade(Trade(venue="binance", symbol="BTC/USDT:USDT", ts=2, price=D("40100.6"), size=D(1), side=Side.SELL))
    assert paper.positions() != []  # still above 40100.598...
    paper.on_trade(Trade(venue="binance", symbol="BTC/USDT:USDT", ts=3, price=D("40100.5"), size=D(1), side=Side.SELL))
    assert paper.positions() == []
    assert paper.order("ot-x").status is OrderStatus.CANCELED  # it would no longer reduce anything
    usdt = {b.asset: b for b in paper.balances()}["USDT"]
    assert (usdt.free, usdt.used) == (D("100000") - margin - opened.fee, 0)
    kinds = [type(e) for e in events.drain()]
    assert kinds == [PositionChanged, RiskAlert]
