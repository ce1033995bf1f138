"""Reconciliation while a venue's report is on its way: a fill is booked once, whichever comes
first. The interleavings are made by holding the report (in the engine's inbox, or in the
database writer) or by applying the two accounts of one fill by hand in either order."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.engine import TradingEngine
from core.events import EventBus
from core.models import ZERO, ExecutionReport, Fill, Instrument, Order, OrderRequest, OrderStatus, OrderType, Side
from core.orders import OrderManager
from core.portfolio import Portfolio
from core.reconcile import with_missed_fill
from core.storage import Database
from runtime.wiring import build_engine
from tests.engine.conftest import engine_config, started, until

D = Decimal
SPOT = "BTC/USDT"
SIZE = D("0.001")


async def resting_buy(engine: TradingEngine) -> Order:
    """A buy at the best bid: it rests, and the seeded market fills it four steps later."""
    book = await engine.venues["paper"].fetch_order_book(SPOT, depth=5)
    return await engine.place_order(OrderRequest(venue="paper", symbol=SPOT, side=Side.BUY, size=SIZE,
                                                 price=book.bids[0][0]))


async def fill_at_venue(engine: TradingEngine, clock: SimClock, order: Order) -> None:
    """Step the venue until it has filled ``order``, without a turn of the event loop (the paper
    venue answers at once): its report waits in the engine's inbox."""
    venue = engine.venues["paper"]
    for _ in range(50):
        found = await venue.fetch_order(order.client_order_id, SPOT)
        if found is not None and found.status is OrderStatus.FILLED:
            return
        clock.advance(1000)
        venue.step()  # type: ignore[attr-defined]
    raise AssertionError("the seeded market did not fill the order")


async def booked_once(engine: TradingEngine, order: Order) -> list[Fill]:
    """The order's fills add up to its size, once, in the database, the portfolio and the
    audit chain; returns them."""
    fills = await engine.fills(client_order_id=order.client_order_id)
    assert sum((f.size for f in fills), ZERO) == SIZE
    known = await engine.orders.get(order.client_order_id)
    assert known is not None and known.status is OrderStatus.FILLED and known.filled_size == SIZE
    assert engine.open_orders() == []
    position = engine.portfolio.position("paper", SPOT)
    assert position is not None and position.size == SIZE
    assert (await engine.db.verify_audit()).ok
    return fills


async def test_reconcile_applies_a_report_still_in_the_inbox_first(engine: TradingEngine, clock: SimClock) -> None:
    order = await resting_buy(engine)
    await fill_at_venue(engine, clock, order)
    assert order.status is OrderStatus.OPEN  # the report is received, not applied
    await engine.reconcile("paper")
    fills = await booked_once(engine, order)
    assert [f.fill_id.startswith("paper-") for f in fills] == [True]  # the venue's own fill, not a reconciled one


async def test_reconcile_waits_for_a_report_held_in_the_database_writer(
    engine: TradingEngine, clock: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report is being applied (its fill on its way to the database) when the reconciliation
    starts. Unserialised, the reconciliation read the venue and the fills on record before the
    write, found the fill missing and booked it, and the report then booked it again."""
    venue, writing, write = engine.venues["paper"], asyncio.Event(), asyncio.Event()
    record_fill, load_fills, fetch_open_orders = engine.db.record_fill, engine.db.load_fills, venue.fetch_open_orders
    reading_venue = False

    async def held_record_fill(fill: Fill) -> bool:
        writing.set()
        await write.wait()
        return await record_fill(fill)

    async def releasing_load_fills(**filters: object) -> list[Fill]:
        fills = await load_fills(**filters)  # type: ignore[arg-type]
        write.set()  # the reconciliation has read the fills on record: let the report's write go
        return fills

    async def watched_fetch_open_orders() -> list[ExecutionReport]:
        nonlocal reading_venue
        reading_venue = True
        return await fetch_open_orders()

    monkeypatch.setattr(engine.db, "record_fill", held_record_fill)
    monkeypatch.setattr(engine.db, "load_fills", releasing_load_fills)
    monkeypatch.setattr(venue, "fetch_open_orders", watched_fetch_open_orders)
    order = await resting_buy(engine)
    await fill_at_venue(engine, clock, order)
    await writing.wait()
    reconciling = asyncio.create_task(engine.reconcile("paper"))
    for _ in range(10):
        await asyncio.sleep(0)
    if not reading_venue:  # it waits for the report in hand, which waits for its write
        write.set()
    await reconciling
    fills = await booked_once(engine, order)
    assert [f.fill_id.startswith("paper-") for f in fills] == [True]


# ----------------------------------------------------------------- the order manager alone

def instrument() -> Instrument:
    return Instrument(venue="paper", symbol=SPOT, base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.0001"))


async def manager(tmp_path: Path, clock: SimClock) -> tuple[OrderManager, Portfolio, Database, Order]:
    db = await Database.open(tmp_path / "orders.sqlite", synchronous="NORMAL", clock=clock)
    book = Portfolio(clock)
    book.register_instrument(instrument())
    orders = OrderManager(db, EventBus(), book)
    now = clock.now_ms()
    order = Order(client_order_id="o-1", venue="paper", symbol=SPOT, side=Side.BUY, type=OrderType.LIMIT,
                  size=D("0.002"), price=D(50_000), created_ts=now, updated_ts=now)
    await orders.record_new(order)
    await orders.apply(report(OrderStatus.OPEN, ZERO))
    return orders, book, db, order


def report(status: OrderStatus, filled: Decimal, fill: Fill | None = None, ts: int = 1) -> ExecutionReport:
    return ExecutionReport(client_order_id="o-1", venue="paper", symbol=SPOT, status=status, venue_order_id="v-1",
                           filled_size=filled, avg_price=D(50_000) if filled else None, ts=ts, fill=fill)


def venue_fill(n: int, size: str) -> Fill:
    return Fill(fill_id=f"paper-{n}", client_order_id="o-1", venue_order_id="v-1", venue="paper", symbol=SPOT,
                side=Side.BUY, price=D(50_000), size=D(size), ts=n)


def venue_reports() -> list[ExecutionReport]:
    """The venue's own account of the order: two fills of 0.001, the second filling it."""
    return [report(OrderStatus.PARTIALLY_FILLED, D("0.001"), venue_fill(1, "0.001"), ts=1),
            report(OrderStatus.FILLED, D("0.002"), venue_fill(2, "0.001"), ts=2)]


async def booked(orders: OrderManager, book: Portfolio, db: Database, size: str) -> list[str]:
    """The order's fills add up to ``size`` in the database and the portfolio; returns their ids."""
    fills = await orders.fills(client_order_id="o-1")
    assert sum((f.size for f in fills), ZERO) == D(size)
    position = book.position("paper", SPOT)
    assert position is not None and position.size == D(size)
    assert (await db.verify_audit()).ok
    return [f.fill_id for f in fills]


async def test_a_report_after_the_reconciliation_that_booked_its_fill_books_nothing(
    tmp_path: Path, clock: SimClock
) -> None:
    orders, book, db, order = await manager(tmp_path, clock)
    try:
        at_venue = report(OrderStatus.FILLED, D("0.002"), ts=3)
        await orders.apply(with_missed_fill(order, at_venue, []), actor="reconcile")
        late = venue_reports()
        for each in late:
            await orders.apply(each, actor="paper")
        assert await booked(orders, book, db, "0.002") == ["o-1:reconciled:0.002"]
        events = [(e["event"], e["detail"] or "") for e in await db.order_events("o-1")]
        skipped = [detail for event, detail in events if event == "fill_already_booked"]
        assert len(skipped) == 2 and skipped[0].startswith("fill paper-1 of 0.001 at 50000 already accounted for")
        await orders.apply(late[1], actor="paper")  # a copy: nothing more, not even a row
        assert len(await db.order_events("o-1")) == len(events)
    finally:
        await db.close()


async def test_a_reconciliation_read_before_the_report_books_nothing_after_it(tmp_path: Path, clock: SimClock) -> None:
    orders, book, db, order = await manager(tmp_path, clock)
    try:
        at_venue = report(OrderStatus.FILLED, D("0.002"), ts=3)
        stale = with_missed_fill(order.copy_with(), at_venue, [])  # made from our state before the report
        await orders.apply(report(OrderStatus.FILLED, D("0.002"), venue_fill(1, "0.002"), ts=2), actor="paper")
        await orders.apply(stale, actor="reconcile")
        assert await booked(orders, book, db, "0.002") == ["paper-1"]
    finally:
        await db.close()


async def test_a_reconciled_part_then_the_reports_book_the_rest(tmp_path: Path, clock: SimClock) -> None:
    """Reconciliation booked the first half; of the reports that follow, the one for that half
    is accounted for and the one for the second half is booked."""
    orders, book, db, order = await manager(tmp_path, clock)
    try:
        await orders.apply(with_missed_fill(order, report(OrderStatus.PARTIALLY_FILLED, D("0.001"), ts=1), []),
                           actor="reconcile")
        for each in venue_reports():
            await orders.apply(each)
        assert await booked(orders, book, db, "0.002") == ["o-1:reconciled:0.001", "paper-2"]
    finally:
        await db.close()


async def test_fills_reported_out_of_order_are_all_booked(tmp_path: Path, clock: SimClock) -> None:
    """The cap is the venue's cumulative size, not the report's: an earlier fill that comes
    after a later one is still booked."""
    orders, book, db, _ = await manager(tmp_path, clock)
    try:
        await orders.apply(report(OrderStatus.FILLED, D("0.002"), venue_fill(2, "0.0015"), ts=2))
        await orders.apply(report(OrderStatus.PARTIALLY_FILLED, D("0.0005"), venue_fill(1, "0.0005"), ts=1))
        assert sorted(await booked(orders, book, db, "0.002")) == ["paper-1", "paper-2"]
    finally:
        await db.close()


async def test_after_a_restart_the_fills_on_record_count(tmp_path: Path, clock: SimClock) -> None:
    """An order from before a restart: the fills it had booked are read from the database, so a
    late report of what a reconciliation booked since is still accounted for."""
    orders, book, db, _ = await manager(tmp_path, clock)
    await orders.apply(venue_reports()[0])
    await db.close()
    db = await Database.open(tmp_path / "orders.sqlite", synchronous="NORMAL", clock=clock)
    try:
        again = OrderManager(db, EventBus(), book)
        [order] = await again.load_open()
        recorded = await again.fills(client_order_id="o-1")
        await again.apply(with_missed_fill(order, report(OrderStatus.FILLED, D("0.002"), ts=3), recorded),
                          actor="reconcile")
        for each in venue_reports():
            await again.apply(each)
        assert await booked(again, book, db, "0.002") == ["paper-1", "o-1:reconciled:0.002"]
    finally:
        await db.close()


async def test_a_fill_reported_while_the_engine_starts_is_applied(
    isolated_home: Path, clock: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The venue fills a resting order after its start-up reconciliation, while the engine is
    still starting (here: restoring the stop-losses): the report is applied, not lost until the
    next start-up."""
    engine = await started(isolated_home, clock)
    order = await resting_buy(engine)
    await engine.close()
    again = await build_engine(engine_config(), isolated_home, clock=clock)
    restore = again.protection.restore

    async def filling_restore() -> None:
        await fill_at_venue(again, clock, order)
        await restore()

    monkeypatch.setattr(again.protection, "restore", filling_restore)
    await again.start()
    try:
        await until(lambda: again.open_orders() == [])  # the report applied: the order no longer rests
        await again.orders.flush()
        await booked_once(again, order)
    finally:
        await again.close()
