"""The paper venue as an exchange: orders, fills, balances, rejections, restarts."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.events import (
    CandleClosed,
    ExecutionReported,
    OrderBookUpdated,
    PositionChanged,
    RiskAlert,
    TickerUpdated,
    TradePrinted,
)
from core.models import Liquidity, Order, OrderStatus, OrderType, Side, TimeInForce
from core.ports import Capability, ExchangeAdapter, OrderNotFound, VenueError
from exchanges.paper.replay import ReplayPath, load_candles
from exchanges.paper.venue import GIVE_WAY_LIMIT

from .conftest import Harness, make_order

BTC = "BTC/USDT"


async def balance_map(h: Harness) -> dict[str, tuple[Decimal, Decimal]]:
    return {b.asset: (b.free, b.used) for b in await h.venue.fetch_balances()}


def tape(h: Harness) -> list[tuple[str, Decimal, Decimal, str]]:
    return [(e.trade.symbol, e.trade.price, e.trade.size, e.trade.side.value) for e in h.of(TradePrinted)]


async def test_implements_the_port_with_the_default_markets(make_venue: Callable[..., Harness]) -> None:
    h = make_venue()
    assert isinstance(h.venue, ExchangeAdapter) and h.venue.mode == "paper"
    assert not h.venue.supports(Capability.LIVE_CONFIRMATION), "paper money needs no go-ahead"
    instruments = {i.symbol: i for i in await h.venue.load_instruments()}
    assert set(instruments) == {"BTC/USDT", "ETH/USDT", "SOL/USDT", "BTC/USDT:USDT"}
    perp = instruments["BTC/USDT:USDT"]
    assert perp.is_perpetual and perp.max_leverage == 20 and perp.taker_fee == Decimal("0.0005")
    assert instruments[BTC].taker_fee == Decimal("0.001") and instruments[BTC].min_notional == 5
    book = await h.venue.fetch_order_book("SOL/USDT", 5)
    assert len(book.bids) == 5 and book.spread is not None and book.spread > 0
    assert Decimal(140) < book.mid < Decimal(160)  # type: ignore[operator]


async def test_same_seed_same_market_and_another_seed_another(make_venue: Callable[..., Harness], tmp_path: Path) -> None:
    runs = []
    for seed, name in ((7, "a"), (7, "b"), (8, "c")):
        h = make_venue(tmp_path / f"{name}.sqlite", seed=seed)
        h.step(300)
        books = [e.book for e in h.of(OrderBookUpdated)]
        runs.append((tape(h), [(b.symbol, b.bids, b.asks) for b in books]))
        h.clock.set(1_704_067_200_000)
    assert runs[0] == runs[1]
    assert len(runs[0][0]) > 100
    assert runs[0][0] != runs[2][0]


async def test_limit_order_rests_then_the_flow_fills_it(make_venue: Callable[..., Harness]) -> None:
    h = make_venue(seed=3)
    book = await h.venue.fetch_order_book(BTC, 1)
    bid = book.best_bid
    assert bid is not None
    ack = await h.venue.create_order(make_order(BTC, Side.BUY, "0.01", price=str(bid)))
    assert ack.status is OrderStatus.OPEN and ack.venue_order_id and ack.fill is None
    held = bid * Decimal("0.01") * Decimal("1.001")
    assert (await balance_map(h))["USDT"] == (Decimal(100000) - held, held)
    steps = h.step_until(lambda: h.status_of(ack.client_order_id) is OrderStatus.FILLED)
    assert steps > 0
    reports = [e.report for e in h.of(ExecutionReported) if e.report.client_order_id == ack.client_order_id]
    assert reports[-1].status is OrderStatus.FILLED and reports[-1].filled_size == Decimal("0.01")
    fills = [r.fill for r in reports if r.fill is not None]
    assert all(f.liquidity is Liquidity.MAKER and f.price == bid for f in fills)
    assert sum(f.fee for f in fills) == bid * Decimal("0.01") * Decimal("0.001")
    assert len({f.fill_id for f in fills}) == len(fills)
    money = await balance_map(h)
    assert money["BTC"] == (Decimal("0.01"), 0)
    assert money["USDT"] == (Decimal(100000) - bid * Decimal("0.01") * Decimal("1.001"), 0)


async def test_market_order_walks_the_book_and_moves_balances(make_venue: Callable[..., Harness]) -> None:
    h = make_venue()
    book = await h.venue.fetch_order_book(BTC, 20)
    ack = await h.venue.create_order(make_order(BTC, Side.BUY, "1.5", OrderType.MARKET))
    assert ack.status is OrderStatus.FILLED and ack.filled_size == Decimal("1.5")
    reports = [e.report for e in h.of(ExecutionReported)]
    fills = [r.fill for r in reports if r.fill is not None]
    assert len(fills) > 1, "1.5 BTC is more than the best level: it must slip through the depth"
    assert ack.fill is not None and ack.fill.fill_id == fills[-1].fill_id
    assert fills[0].price == book.best_ask and fills[-1].price > fills[0].price
    assert [r.filled_size for r in reports][-1] == Decimal("1.5")
    notional = sum(f.price * f.size for f in fills)
    fee = sum(f.fee for f in fills)
    assert fee == notional * Decimal("0.001") == ack.fee
    money = await balance_map(h)
    assert money["BTC"] == (Decimal("1.5"), 0)
    assert money["USDT"] == (Decimal(100000) - notional - fee, 0)
    assert ack.avg_price == (notional / Decimal("1.5")).quantize(Decimal("0.000001"))


@pytest.mark.parametrize(
    ("order", "words"),
    [
        (make_order(BTC, Side.BUY, "5", OrderType.MARKET), "insufficient USDT"),
        (make_order("DOGE/USDT", Side.BUY, "1", price="0.1"), "unknown symbol"),
        (make_order(BTC, Side.BUY, "0.000001", price="60000"), "lot size"),
        (make_order(BTC, Side.BUY, "0.01", price="60000.001"), "tick size"),
        (make_order(BTC, Side.BUY, "0.00001", price="60000"), "below the minimum 5"),
        (make_order(BTC, Side.SELL, "0.01", price="90000"), "insufficient BTC"),
        (make_order(BTC, Side.SELL, "0.01", price="90000", reduce_only=True), "perpetual contracts only"),
        (make_order("BTC/USDT:USDT", Side.BUY, "0.01", OrderType.MARKET, leverage=50), "exceeds"),
        (Order(client_order_id="bad", venue="paper", symbol=BTC, side=Side.BUY, type=OrderType.LIMIT,
               size=Decimal("0.01")), "needs a price"),
    ],
)
async def test_rejections_are_reports_with_a_reason(make_venue: Callable[..., Harness], order: Order, words: str) -> None:
    h = make_venue()
    before = await balance_map(h)
    report = await h.venue.create_order(order)
    assert report.status is OrderStatus.REJECTED and words in (report.reason or "")
    assert await balance_map(h) == before
    assert await h.venue.fetch_order(order.client_order_id, order.symbol) == report
    assert [e.report for e in h.of(ExecutionReported)] == [report]


async def test_post_only_that_would_cross_is_rejected(make_venue: Callable[..., Harness]) -> None:
    h = make_venue()
    ask = (await h.venue.fetch_order_book(BTC, 1)).best_ask
    report = await h.venue.create_order(make_order(BTC, Side.BUY, "0.01", price=str(ask), post_only=True))
    assert report.status is OrderStatus.REJECTED and "post-only" in (report.reason or "")
    assert (await balance_map(h))["USDT"] == (Decimal(100000), 0)


async def test_ioc_and_fok(make_venue: Callable[..., Harness]) -> None:
    h = make_venue()
    ask = (await h.venue.fetch_order_book(BTC, 1)).best_ask
    assert ask is not None
    fok = await h.venue.create_order(make_order(BTC, Side.BUY, "1", price=str(ask), time_in_force=TimeInForce.FOK))
    assert fok.status is OrderStatus.REJECTED and "fill-or-kill" in (fok.reason or "")
    ioc = await h.venue.create_order(make_order(BTC, Side.BUY, "1", price=str(ask), time_in_force=TimeInForce.IOC))
    assert ioc.status is OrderStatus.CANCELED and Decimal(0) < ioc.filled_size < 1
    assert (await balance_map(h))["USDT"][1] == 0
    # the answer is the order as it ended, with its last fill; the stream had each change
    published = [e.report for e in h.of(ExecutionReported) if e.report.client_order_id == ioc.client_order_id]
    assert published[-1].fill is None and published[-1].status is OrderStatus.CANCELED
    assert ioc.fill == [r.fill for r in published if r.fill is not None][-1]
    assert ioc == published[-1].model_copy(update={"fill": ioc.fill})
    assert fok == [e.report for e in h.of(ExecutionReported) if e.report.client_order_id == fok.client_order_id][-1]


async def test_stop_market_triggers_with_the_flow(make_venue: Callable[..., Harness]) -> None:
    h = make_venue(seed=3, markets=[BTC])
    await h.venue.create_order(make_order(BTC, Side.BUY, "0.1", OrderType.MARKET))
    trigger = (await h.venue.fetch_order_book(BTC, 1)).best_bid - 1  # type: ignore[operator]
    stop = make_order(BTC, Side.SELL, "0.1", OrderType.STOP_MARKET, trigger_price=str(trigger))
    ack = await h.venue.create_order(stop)
    assert ack.status is OrderStatus.OPEN
    assert h.step_until(lambda: h.status_of(stop.client_order_id) is OrderStatus.FILLED) > 0
    final = await h.venue.fetch_order(stop.client_order_id, BTC)
    assert final is not None and final.avg_price <= trigger  # type: ignore[operator]
    triggering = [t for t in h.of(TradePrinted) if t.trade.price <= trigger]
    assert triggering and triggering[0].trade.ts == final.ts


async def test_perpetual_pnl_and_fees(make_venue: Callable[..., Harness]) -> None:
    h = make_venue(seed=11)
    perp = "BTC/USDT:USDT"
    opened = await h.venue.create_order(make_order(perp, Side.BUY, "0.2", OrderType.MARKET, leverage=5))
    [position] = await h.venue.fetch_positions()
    assert position.side.value == "long" and position.size == Decimal("0.2") and position.leverage == 5
    assert position.entry_price == opened.avg_price
    assert position.margin == position.entry_price * Decimal("0.2") / 5
    # the ledger's exact price, as the portfolio and the ticket have it (it was rounded to the tick here)
    assert position.liquidation_price == position.entry_price * Decimal("0.8") / Decimal("0.995")
    h.step(200)
    [position] = await h.venue.fetch_positions()
    assert position.unrealized_pnl == (position.mark_price - position.entry_price) * Decimal("0.2")  # type: ignore[operator]
    closed = await h.venue.create_order(make_order(perp, Side.SELL, "0.2", OrderType.MARKET, reduce_only=True))
    assert closed.status is OrderStatus.FILLED
    assert await h.venue.fetch_positions() == []
    fills = [e.report.fill for e in h.of(ExecutionReported) if e.report.fill is not None]
    entry_notional = sum(f.price * f.size for f in fills if f.side is Side.BUY)
    exit_notional = sum(f.price * f.size for f in fills if f.side is Side.SELL)
    fees = sum(f.fee for f in fills)
    money = await balance_map(h)
    assert money["USDT"] == (Decimal(100000) + exit_notional - entry_notional - fees, 0)


async def test_reduce_only_rules(make_venue: Callable[..., Harness]) -> None:
    h = make_venue()
    perp = "BTC/USDT:USDT"
    none = await h.venue.create_order(make_order(perp, Side.SELL, "0.01", OrderType.MARKET, reduce_only=True))
    assert none.status is OrderStatus.REJECTED and "no BTC/USDT:USDT position" in (none.reason or "")
    await h.venue.create_order(make_order(perp, Side.BUY, "0.1", OrderType.MARKET))
    more = await h.venue.create_order(make_order(perp, Side.BUY, "0.01", OrderType.MARKET, reduce_only=True))
    assert more.status is OrderStatus.REJECTED and "increase the long" in (more.reason or "")
    too_big = await h.venue.create_order(make_order(perp, Side.SELL, "0.2", OrderType.MARKET, reduce_only=True))
    assert too_big.status is OrderStatus.REJECTED and "exceeds" in (too_big.reason or "")
    far = (await h.venue.fetch_order_book(perp, 1)).best_ask * 2  # type: ignore[operator]
    take_profit = await h.venue.create_order(make_order(perp, Side.SELL, "0.1", price=str(far), reduce_only=True))
    assert take_profit.status is OrderStatus.OPEN
    await h.venue.create_order(make_order(perp, Side.SELL, "0.1", OrderType.MARKET))
    stale = await h.venue.fetch_order(take_profit.client_order_id, perp)
    assert stale is not None and stale.status is OrderStatus.CANCELED and "reduce-only" in (stale.reason or "")
    assert (await balance_map(h))["USDT"][1] == 0


async def test_liquidation_when_the_mark_crosses(make_venue: Callable[..., Harness], tmp_path: Path) -> None:
    crash = tmp_path / "crash.csv"
    crash.write_text(
        "timestamp,open,high,low,close,volume\n"
        "1704067200000,60000,60010,59990,60000,10\n"
        "1704067260000,60000,60000,55000,55000,10\n"
        "1704067320000,55000,55100,54900,55000,10\n"
    )
    h = make_venue(markets=["BTC/USDT:USDT"], replay=crash, tick_interval=1.0)
    ack = await h.venue.create_order(make_order("BTC/USDT:USDT", Side.BUY, "0.1", OrderType.MARKET, leverage=20))
    [position] = await h.venue.fetch_positions()
    assert position.liquidation_price is not None and position.liquidation_price > Decimal(56000)
    h.step(150, ms=1000)
    assert await h.venue.fetch_positions() == []
    [changed] = h.of(PositionChanged)
    assert changed.closed and changed.position.realized_pnl == -position.margin
    assert h.of(RiskAlert)[0].rule == "liquidation"
    money = await balance_map(h)
    assert money["USDT"] == (Decimal(100000) - position.margin - ack.fee, 0)


async def test_replay_follows_recorded_candles(make_venue: Callable[..., Harness]) -> None:
    data = Path(__file__).parents[1] / "data" / "binance_BTC_USDT-1m-120.csv"
    h = make_venue(markets=["BTC/USDT"], replay=data, tick_interval=1.0)
    recorded = [line.split(",") for line in data.read_text().splitlines()[1:6]]
    h.clock.set(1_712_016_000_000 - 1000)  # the first step then falls on the first candle's open
    h.step(60 * 4, ms=1000)
    candles = [e.candle for e in h.of(CandleClosed)]
    assert len(candles) >= 3
    for candle, row in zip(candles, recorded, strict=False):
        high, low, close = float(row[2]), float(row[3]), float(row[4])
        assert abs(candle.close - close) / close < 0.0005
        # the flow trades at the bid and ask and sometimes sweeps a few levels past the mid
        assert abs(candle.high - high) / high < 0.001 and abs(candle.low - low) / low < 0.001
    volumes = sum(c.volume for c in candles[:3]), sum(float(row[5]) for row in recorded[:3])
    assert 0.5 < volumes[0] / volumes[1] < 1.5
    ticker = h.of(TickerUpdated)[-1].ticker
    assert abs(float(ticker.mark) - float(recorded[3][4])) < 0.02  # type: ignore[arg-type]


async def test_restart_continues_where_it_stopped(make_venue: Callable[..., Harness], tmp_path: Path) -> None:
    path = tmp_path / "venue.sqlite"
    h = make_venue(path)
    bought = await h.venue.create_order(make_order(BTC, Side.BUY, "0.1", OrderType.MARKET))
    resting = await h.venue.create_order(make_order(BTC, Side.SELL, "0.05", price="90000"))
    perp = await h.venue.create_order(make_order("BTC/USDT:USDT", Side.SELL, "0.1", OrderType.MARKET, leverage=3))
    h.step(50)
    money, positions = await balance_map(h), await h.venue.fetch_positions()
    mid = (await h.venue.fetch_order_book(BTC, 1)).mid
    await h.venue.stop()

    again = make_venue(path)
    assert await balance_map(again) == money
    assert [(p.symbol, p.size, p.entry_price, p.margin) for p in await again.venue.fetch_positions()] == [
        (p.symbol, p.size, p.entry_price, p.margin) for p in positions]
    assert [r.client_order_id for r in await again.venue.fetch_open_orders()] == [resting.client_order_id]
    assert (await again.venue.fetch_order(bought.client_order_id, BTC)) == bought.model_copy(update={"fill": None})
    assert (await again.venue.fetch_order(perp.client_order_id, BTC)).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert abs((await again.venue.fetch_order_book(BTC, 1)).mid - mid) < 5  # type: ignore[operator]
    canceled = await again.venue.cancel_order(resting.client_order_id, BTC)
    assert canceled.status is OrderStatus.CANCELED
    assert (await balance_map(again))["BTC"] == (Decimal("0.1"), 0)
    again.step(5)
    assert [r.fill.fill_id for r in (e.report for e in again.of(ExecutionReported)) if r.fill] == []


async def test_an_open_order_of_a_market_no_longer_configured_is_canceled_at_restart(
    make_venue: Callable[..., Harness], tmp_path: Path,
) -> None:
    path = tmp_path / "venue.sqlite"
    h = make_venue(path, markets=[BTC, "ETH/USDT"])
    resting = await h.venue.create_order(make_order("ETH/USDT", Side.BUY, "0.1", price="2000"))
    await h.venue.stop()
    again = make_venue(path, markets=[BTC])
    again.step(3)
    assert await again.venue.fetch_open_orders() == []
    gone = await again.venue.fetch_order(resting.client_order_id, "ETH/USDT")
    assert gone is not None and gone.status is OrderStatus.CANCELED and "no longer configured" in (gone.reason or "")
    assert (await balance_map(again))["USDT"] == (Decimal(100000), 0)


async def test_fill_ids_continue_after_a_restart(make_venue: Callable[..., Harness], tmp_path: Path) -> None:
    path = tmp_path / "ids.sqlite"
    first = make_venue(path)
    a = await first.venue.create_order(make_order(BTC, Side.BUY, "0.01", OrderType.MARKET))
    first.venue.close()
    second = make_venue(path)
    b = await second.venue.create_order(make_order(BTC, Side.BUY, "0.01", OrderType.MARKET))
    assert a.fill is not None and b.fill is not None and a.fill.fill_id != b.fill.fill_id
    assert a.venue_order_id != b.venue_order_id


async def test_the_order_count_continues_after_a_restart(make_venue: Callable[..., Harness], tmp_path: Path) -> None:
    """Kept by the orders' own numbers (an order's save is one statement), or by the count an
    older file kept beside them, whichever is higher."""
    path = tmp_path / "count.sqlite"
    first = make_venue(path)
    for price in ("50000", "50001"):
        await first.venue.create_order(make_order(BTC, Side.BUY, "0.01", price=price))
    first.venue.close()
    second = make_venue(path)
    assert second.venue.exchange.order_seq == 2
    third = await second.venue.create_order(make_order(BTC, Side.BUY, "0.01", price="50002"))
    assert third.venue_order_id == "3"
    second.venue.close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('order_seq', '7')")
    db.close()
    assert make_venue(path).venue.exchange.order_seq == 7


async def test_duplicate_client_order_id_creates_nothing(make_venue: Callable[..., Harness]) -> None:
    h = make_venue()
    order = make_order(BTC, Side.BUY, "0.01", price="50000")
    first = await h.venue.create_order(order)
    second = await h.venue.create_order(order.model_copy())
    assert first == second and len(await h.venue.fetch_open_orders()) == 1
    assert (await balance_map(h))["USDT"][1] == Decimal("500.50000")
    market = make_order(BTC, Side.BUY, "0.01", OrderType.MARKET)
    filled = await h.venue.create_order(market)
    assert await h.venue.create_order(market) == filled.model_copy(update={"fill": None})
    assert (await balance_map(h))["BTC"] == (Decimal("0.01"), 0)


async def test_cancel(make_venue: Callable[..., Harness]) -> None:
    h = make_venue()
    with pytest.raises(OrderNotFound):
        await h.venue.cancel_order("nope", BTC)
    filled = await h.venue.create_order(make_order(BTC, Side.BUY, "0.01", OrderType.MARKET))
    assert (await h.venue.cancel_order(filled.client_order_id, BTC)).status is OrderStatus.FILLED
    with pytest.raises(VenueError, match="unknown symbol"):
        await h.venue.fetch_order_book("XRP/USDT")


async def test_background_task_steps_on_the_clock(make_venue: Callable[..., Harness]) -> None:
    h = make_venue()
    await h.venue.start(h.bus)
    await h.venue.subscribe(["ETH/USDT"])
    for _ in range(3):
        h.clock.advance(100)
        for _ in range(5):
            await asyncio.sleep(0)
    await h.venue.stop()
    symbols = {e.book.symbol for e in h.of(OrderBookUpdated)[4:]}
    assert symbols == {"ETH/USDT"} and len(h.of(OrderBookUpdated)) >= 6


async def test_the_background_step_takes_a_market_per_turn_of_the_loop_and_leaves_them_as_step_does(
    make_venue: Callable[..., Harness], tmp_path: Path
) -> None:
    """An order in flight waits behind one market's step, not behind the whole step (1.4 ms of
    CPU for five markets here, the one-at-a-time p99's main part): ``advance``, which the
    background task runs, lets the loop turn between markets, and moves them as ``step`` does."""
    stepped, spread = make_venue(tmp_path / "a.sqlite"), make_venue(tmp_path / "b.sqlite")
    stepped.venue.step()
    advancing = asyncio.get_running_loop().create_task(spread.venue.advance())
    seen = []
    while not advancing.done():
        seen.append(len(spread.of(OrderBookUpdated)))
        await asyncio.sleep(0)
    markets = len(await spread.venue.load_instruments())
    assert markets == 4 and set(range(markets)) <= set(seen), seen
    assert tape(spread) == tape(stepped) and len(tape(spread)) > 0
    assert [(e.book.symbol, e.book.bids, e.book.asks) for e in spread.of(OrderBookUpdated)] == \
        [(e.book.symbol, e.book.bids, e.book.asks) for e in stepped.of(OrderBookUpdated)]


class Writes:
    """A foreground (``PaperVenue.give_way_to``) that is always busy: each wait asked of it
    "lasts" ``lasts`` seconds, or the limit given if that is shorter."""

    def __init__(self, lasts: float, busy: bool = True) -> None:
        self.lasts = lasts
        self.busy = busy
        self.limits: list[float] = []

    async def quiet(self, limit: float) -> float:
        self.limits.append(limit)
        return min(self.lasts, limit)


@pytest.mark.parametrize("lasts", [0.002, 1.0])
async def test_the_background_step_gives_way_to_the_foreground_for_a_bounded_time_and_takes_the_same_steps(
    make_venue: Callable[..., Harness], tmp_path: Path, lasts: float
) -> None:
    """While the database's thread writes an order, a market waits for it, but a stream of
    writes holds a step back by ``GIVE_WAY_LIMIT`` at the most, and the markets move as they
    would have without waiting."""
    stepped, giving_way = make_venue(tmp_path / "a.sqlite"), make_venue(tmp_path / "b.sqlite")
    writes = Writes(lasts)
    giving_way.venue.give_way_to(writes)
    for _ in range(3):
        stepped.venue.step()
        await giving_way.venue.advance()
    per_step = len(writes.limits) // 3
    assert per_step == (3 if lasts < GIVE_WAY_LIMIT else 1)  # 5 ms: waits of 2 ms, 2 ms and the 1 ms left
    assert writes.limits[:per_step] == pytest.approx([GIVE_WAY_LIMIT - i * lasts for i in range(per_step)])
    assert sum(min(lasts, limit) for limit in writes.limits[:per_step]) <= GIVE_WAY_LIMIT
    assert tape(giving_way) == tape(stepped) and len(tape(stepped)) > 0


async def test_the_background_step_does_not_wait_for_a_foreground_with_nothing_in_flight(
    make_venue: Callable[..., Harness],
) -> None:
    h = make_venue()
    idle = Writes(1.0, busy=False)
    h.venue.give_way_to(idle)
    await h.venue.advance()
    assert idle.limits == [] and len(h.of(OrderBookUpdated)) == len(await h.venue.load_instruments())


def test_a_market_without_a_price_is_a_clear_error(make_venue: Callable[..., Harness]) -> None:
    with pytest.raises(ValueError, match="give it a starting price"):
        make_venue(markets=["DOGE/USDT"])
    h = make_venue(markets=[{"symbol": "DOGE/USDT", "price": "0.15"}])
    assert h.venue._markets["DOGE/USDT"].instrument.tick_size == Decimal("0.00001")


async def test_ohlcv_history_then_candles_from_trades(make_venue: Callable[..., Harness]) -> None:
    h = make_venue(markets=[BTC])
    start = h.clock.now_ms()
    history = await h.venue.fetch_ohlcv(BTC, "1m", limit=1000)
    assert len(history) == 1000 and history[-1].ts == start - 60_000, "more than seeded: the path goes on back"
    assert all(b.ts - a.ts == 60_000 for a, b in zip(history, history[1:], strict=False))
    assert abs(history[-1].close - float((await h.venue.fetch_order_book(BTC, 1)).mid)) < 5  # type: ignore[arg-type]
    h.step(1300)
    candles = await h.venue.fetch_ohlcv(BTC, "1m", since=start - 60_000)
    assert [c.ts - start for c in candles] == [-60_000, 0, 60_000, 120_000]
    assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in candles)
    closed = [e.candle for e in h.of(CandleClosed) if e.symbol == BTC]
    assert [c.ts for c in closed] == [c.ts for c in candles[1:3]]
    hours = await h.venue.fetch_ohlcv(BTC, "1h")
    assert all(b.ts - a.ts == 3_600_000 for a, b in zip(hours, hours[1:], strict=False)) and len(hours) >= 10
    assert len(await h.venue.fetch_ohlcv(BTC, "5m", limit=7)) == 7
    with pytest.raises(VenueError, match="timeframe"):
        await h.venue.fetch_ohlcv(BTC, "3d")


async def test_partial_fill_rests_then_cancel_releases_the_rest(make_venue: Callable[..., Harness]) -> None:
    h = make_venue(markets=[BTC])
    ask = (await h.venue.fetch_order_book(BTC, 1)).best_ask
    assert ask is not None
    ack = await h.venue.create_order(make_order(BTC, Side.BUY, "1", price=str(ask)))
    assert ack.status is OrderStatus.PARTIALLY_FILLED and Decimal(0) < ack.filled_size < 1
    assert ack.fill is not None and ack.fill.liquidity is Liquidity.TAKER
    [still_open] = await h.venue.fetch_open_orders()
    assert still_open == ack.model_copy(update={"fill": None})
    assert (await h.venue.fetch_order_book(BTC, 1)).best_bid == ask
    canceled = await h.venue.cancel_order(ack.client_order_id, BTC)
    assert canceled.status is OrderStatus.CANCELED and canceled.filled_size == ack.filled_size
    money = await balance_map(h)
    assert money["USDT"] == (Decimal(100000) - ack.filled_size * ask * Decimal("1.001"), 0)
    assert await h.venue.fetch_open_orders() == []


async def test_latency_is_simulated_on_the_clock(make_venue: Callable[..., Harness]) -> None:
    h = make_venue(markets=[BTC], latency_ms=250)
    task = asyncio.ensure_future(h.venue.create_order(make_order(BTC, Side.BUY, "0.01", OrderType.MARKET)))
    await asyncio.sleep(0)
    assert not task.done()
    h.clock.advance(250)
    report = await task
    assert report.status is OrderStatus.FILLED and report.ts == h.clock.now_ms()


async def test_trailing_stop_survives_a_restart(make_venue: Callable[..., Harness], tmp_path: Path) -> None:
    path = tmp_path / "trail.sqlite"
    h = make_venue(path, markets=[BTC], seed=2)
    await h.venue.create_order(make_order(BTC, Side.BUY, "0.1", OrderType.MARKET))
    trail = make_order(BTC, Side.SELL, "0.1", OrderType.TRAILING_STOP, trailing_offset="200")
    assert (await h.venue.create_order(trail)).status is OrderStatus.OPEN
    h.step(300)
    engine_order = h.venue._markets[BTC].engine.get(trail.client_order_id)
    assert engine_order is not None and engine_order.ref is not None
    ref = engine_order.ref
    h.venue.close()
    again = make_venue(path, markets=[BTC], seed=2)
    restored = again.venue._markets[BTC].engine.get(trail.client_order_id)
    assert restored is not None and restored.ref == ref and restored.trigger == ref - 200 * 100
    assert [r.client_order_id for r in await again.venue.fetch_open_orders()] == [trail.client_order_id]


async def test_fast_forward_takes_longer_steps(make_venue: Callable[..., Harness]) -> None:
    data = Path(__file__).parents[1] / "data" / "binance_BTC_USDT-1m-120.csv"
    h = make_venue(markets=[BTC], replay=data, speed=100, tick_interval=0.1)
    await h.venue.start(h.bus)
    for _ in range(2):
        await asyncio.sleep(0)
        h.clock.advance(50)  # the shortest background interval: each step covers 5 simulated seconds
        await asyncio.sleep(0)
    await h.venue.stop()
    expected = ReplayPath(load_candles(data))
    expected.advance(5.0)
    mark = h.of(TickerUpdated)[-1].ticker.mark
    assert mark == Decimal(str(round(expected.advance(5.0), 2)))


async def test_funding_every_eight_hours(make_venue: Callable[..., Harness], tmp_path: Path) -> None:
    perp = "BTC/USDT:USDT"
    path = tmp_path / "funding.sqlite"
    h = make_venue(path, markets=[perp])
    await h.venue.create_order(make_order(perp, Side.SELL, "0.5", OrderType.MARKET, leverage=2))
    boundary = 1_704_067_200_000 + 8 * 3_600_000
    h.clock.set(boundary - 200)
    h.step()  # at boundary - 100
    before = (await balance_map(h))["USDT"]
    h.step()  # at the boundary: funding at this step's mark
    [position] = await h.venue.fetch_positions()
    received = position.mark_price * Decimal("0.5") * Decimal("0.0001")  # type: ignore[operator]
    assert (await balance_map(h))["USDT"] == (before[0] + received, before[1])
    assert position.realized_pnl == received
    h.step()
    h.venue.close()
    again = make_venue(path, markets=[perp])
    again.step()
    assert (await balance_map(again))["USDT"] == (before[0] + received, before[1]), "paid once per interval"


async def test_spot_and_perpetual_move_together(make_venue: Callable[..., Harness]) -> None:
    h = make_venue(markets=[BTC, "BTC/USDT:USDT"], seed=4)
    h.step(1000)
    marks = {e.ticker.symbol: e.ticker.mark for e in h.of(TickerUpdated)[-2:]}
    assert abs(marks["BTC/USDT:USDT"] / marks[BTC] - 1) < Decimal("0.002")  # type: ignore[operator]


async def test_a_burst_shares_one_state_transaction_committed_before_the_answers(
    make_venue: Callable[..., Harness], tmp_path: Path
) -> None:
    path = tmp_path / "burst.sqlite"
    h = make_venue(path)
    orders = [make_order(BTC, Side.BUY, "0.01", price=str(40000 + n)) for n in range(20)]
    commits: list[int] = []
    save = h.venue._state.save

    def counted_save(**rows: Any) -> None:
        orders = list(rows.pop("orders", ()))
        commits.append(len(orders))
        save(orders=orders, **rows)

    h.venue._state.save = counted_save  # type: ignore[method-assign]
    reports = await asyncio.gather(*(h.venue.create_order(order) for order in orders))
    assert commits == [20], "twenty orders placed in one turn of the loop, one transaction"
    stored = sqlite3.connect(path).execute("SELECT client_order_id FROM orders WHERE is_open = 1").fetchall()
    assert {row[0] for row in stored} == {r.client_order_id for r in reports}
    again = await h.venue.create_order(orders[0].model_copy())
    assert again == reports[0] and commits == [20], "a repeated id is answered from memory, nothing written"


async def test_candles_close_on_the_venues_clock_at_speed_60(make_venue: Callable[..., Harness]) -> None:
    """A simulated minute passes every second of the clock: a 1m candle closes each second, and
    trades are stamped on the venue's time. Before, candles closed on the clock's minutes, so at
    speed 60 a 1m strategy waited an hour of simulated market per candle."""
    h = make_venue(markets=[BTC], speed=60)
    await h.venue.start(h.bus)
    start = h.clock.now_ms()
    for _ in range(40):  # 4 seconds of the clock
        h.clock.advance(100)
        for _ in range(3):
            await asyncio.sleep(0)
    closed = [e.candle.ts for e in h.of(CandleClosed) if e.symbol == BTC]
    assert len(closed) >= 3 and all(b - a == 60_000 for a, b in zip(closed, closed[1:], strict=False))
    trades = [e.trade.ts for e in h.of(TradePrinted)]
    assert start + 3 * 60_000 < trades[-1] <= start + 4 * 60_000
    await h.venue.stop()


async def test_a_faster_run_leaves_the_venue_time_where_it_was(make_venue: Callable[..., Harness], tmp_path: Path) -> None:
    path = tmp_path / "fast.sqlite"
    h = make_venue(path, markets=[BTC], speed=60)
    start = h.clock.now_ms()
    h.clock.advance(10_000)  # ten minutes of the venue
    h.venue.close()
    again = make_venue(path, markets=[BTC])
    book = await again.venue.fetch_order_book(BTC, 1)
    assert book.ts == start + 600_000, "no going back in time after a restart"


async def test_history_reaches_as_far_back_as_asked_and_ends_at_the_start_price(
    make_venue: Callable[..., Harness], tmp_path: Path
) -> None:
    plain = make_venue(tmp_path / "plain.sqlite", markets=[BTC])
    h = make_venue(tmp_path / "deep.sqlite", markets=[BTC], history={"1h": 300, "4h": 100})
    start = h.clock.now_ms()
    hours = await h.venue.fetch_ohlcv(BTC, "1h", limit=300)
    assert len(hours) == 300 and hours[-1].ts == start - 3_600_000
    assert all(b.ts - a.ts == 3_600_000 for a, b in zip(hours, hours[1:], strict=False))
    assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high and c.high > c.low for c in hours)
    assert len(await h.venue.fetch_ohlcv(BTC, "4h", limit=100)) == 100
    mid = float((await h.venue.fetch_order_book(BTC, 1)).mid)  # type: ignore[arg-type]
    assert abs(hours[-1].close / mid - 1) < 0.001
    assert await h.venue.fetch_ohlcv(BTC, "1m", limit=500) == await plain.venue.fetch_ohlcv(BTC, "1m", limit=500), (
        "the recent minutes do not depend on how far back the history goes")


async def test_asking_for_more_history_than_seeded_extends_it_backwards(make_venue: Callable[..., Harness]) -> None:
    """The agents' forecast model needs 314 candles where 300 were configured: the venue walks
    its path further back, ending where the seeded history began, the same way every time."""
    h = make_venue(markets=[BTC, "BTC/USDT:USDT"], history={"1h": 300})
    seeded = await h.venue.fetch_ohlcv(BTC, "1h", limit=300)
    more = await h.venue.fetch_ohlcv(BTC, "1h", limit=314)
    assert len(more) == 314 and more[-300:][1:] == seeded[1:], "the seeded candles stay as they were"
    assert more[-300].close == seeded[0].close and more[-300].high >= seeded[0].high
    assert all(b.ts - a.ts == 3_600_000 for a, b in zip(more, more[1:], strict=False))
    perp = await h.venue.fetch_ohlcv("BTC/USDT:USDT", "1h", limit=314)
    assert len(perp) == 314 and abs(perp[0].close / more[0].close - 1) < 0.002, "the perpetual follows its spot"


async def test_the_ticker_says_what_the_day_change_is_measured_from(make_venue: Callable[..., Harness]) -> None:
    """The open of the hour in which the day began, from the first second: the seeded ten
    hours are walked back to a day when the venue starts."""
    h = make_venue(markets=[BTC])
    h.step()
    ticker = h.of(TickerUpdated)[-1].ticker
    hours = await h.venue.fetch_ohlcv(BTC, "1h", limit=25)
    day, hour = 86_400_000, 3_600_000
    began = next(c for c in hours if c.ts + hour > ticker.ts - day)
    assert ticker.reference_ts == began.ts
    [instrument] = [i for i in await h.venue.load_instruments() if i.symbol == BTC]
    assert ticker.reference_price == instrument.round_price(Decimal(str(began.open)))
    assert day <= ticker.ts - ticker.reference_ts < day + hour


async def test_a_perpetual_of_another_contract_size(make_venue: Callable[..., Harness]) -> None:
    """Contracts worth 0.01 BTC: margin, PnL and funding are a hundredth of whole coins' (the
    venue's account charged fees on the contract size but margin, PnL and funding without it)."""
    perp = "BTC/USDT:USDT"
    h = make_venue(markets=[{"symbol": perp, "contract_size": "0.01"}])
    opened = await h.venue.create_order(make_order(perp, Side.BUY, "10", OrderType.MARKET, leverage=5))
    [position] = await h.venue.fetch_positions()
    entry = position.entry_price
    assert position.margin == entry * 10 * Decimal("0.01") / 5
    assert opened.fee == entry * 10 * Decimal("0.01") * Decimal("0.0005")
    assert (await balance_map(h))["USDT"] == (Decimal(100000) - position.margin - opened.fee, position.margin)
    h.clock.set(1_704_067_200_000 + 8 * 3_600_000)
    h.step()
    [position] = await h.venue.fetch_positions()
    paid = position.mark_price * 10 * Decimal("0.01") * Decimal("0.0001")  # type: ignore[operator]
    assert position.realized_pnl == -paid
    assert position.unrealized_pnl == (position.mark_price - entry) * 10 * Decimal("0.01")  # type: ignore[operator]
