"""The bus never drops order events and coalesces market data for slow subscribers."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from core.clock import SimClock
from core.events import EventBus, OrderBookUpdated, OrderUpdated, TradePrinted
from core.market import MarketCache
from core.models import Order, OrderBook, OrderRequest, Side, Trade
from core.stream import event_json, topic_of


def book(symbol: str, ts: int) -> OrderBookUpdated:
    return OrderBookUpdated(OrderBook(venue="paper", symbol=symbol, ts=ts, bids=[(Decimal(ts), Decimal(1))]))


def order_event(i: int) -> OrderUpdated:
    request = OrderRequest(venue="paper", symbol="BTC/USDT", side=Side.BUY, size=Decimal(1), price=Decimal(i + 1))
    return OrderUpdated(Order.from_request(request, i))


def test_books_for_one_symbol_are_coalesced_to_the_latest() -> None:
    bus = EventBus()
    sub = bus.subscribe(OrderBookUpdated, maxsize=10)
    for ts in range(100):
        bus.publish(book("BTC/USDT", ts))
        bus.publish(book("ETH/USDT", ts))
    events = sub.drain()
    assert [(e.book.symbol, e.book.ts) for e in events] == [("BTC/USDT", 99), ("ETH/USDT", 99)]
    assert sub.coalesced == 198


def test_order_events_are_never_dropped_and_keep_their_order() -> None:
    bus = EventBus()
    sub = bus.subscribe(OrderUpdated, OrderBookUpdated, maxsize=2)
    for i in range(5000):
        bus.publish(order_event(i))
        bus.publish(book(f"S{i}/USDT", i))
    events = sub.drain()
    orders = [e for e in events if isinstance(e, OrderUpdated)]
    assert [o.order.created_ts for o in orders] == list(range(5000))
    assert len(events) - len(orders) == 2
    assert sub.dropped == 4998


def test_trades_are_bounded_oldest_first_out() -> None:
    bus = EventBus()
    sub = bus.subscribe(TradePrinted, maxsize=3)
    for i in range(10):
        bus.publish(TradePrinted(Trade(venue="p", symbol="X/Y", ts=i, price=Decimal(1), size=Decimal(1), side=Side.BUY)))
    assert [e.trade.ts for e in sub.drain()] == [7, 8, 9]


def test_subscribers_filter_by_type_and_listeners_run_inline() -> None:
    bus = EventBus()
    seen: list[object] = []
    bus.add_listener((OrderUpdated,), seen.append)
    books = bus.subscribe(OrderBookUpdated)
    bus.publish(order_event(1))
    assert len(seen) == 1 and len(books) == 0


def test_a_bound_method_listener_is_removed_by_naming_it_again() -> None:
    bus = EventBus()
    seen: list[object] = []
    bus.add_listener((OrderUpdated,), seen.append)
    bus.remove_listener(seen.append)
    bus.publish(order_event(1))
    assert seen == []


def test_receivers_added_or_removed_after_a_publication_are_served_from_the_next() -> None:
    """The bus works out each event type's receivers once (its route) and must work them out
    again after every change of listeners or subscribers: each change here comes alone."""
    bus = EventBus()
    early: list[object] = []
    bus.add_listener((OrderUpdated,), early.append)
    bus.publish(order_event(1))
    sub = bus.subscribe(OrderUpdated)
    bus.publish(order_event(2))
    assert (len(early), len(sub)) == (2, 1)
    late: list[object] = []
    bus.add_listener((OrderUpdated,), late.append)
    bus.publish(order_event(3))
    assert (len(early), len(late), len(sub)) == (3, 1, 2)
    bus.remove_listener(early.append)
    bus.publish(order_event(4))
    assert (len(early), len(late), len(sub)) == (3, 2, 3)
    sub.close()
    bus.publish(order_event(5))
    assert (len(early), len(late), len(sub)) == (3, 3, 3)


def test_a_failing_listener_does_not_stop_publishing() -> None:
    bus = EventBus()
    sub = bus.subscribe(OrderUpdated)

    def broken(_: object) -> None:
        raise RuntimeError("boom")

    bus.add_listener((OrderUpdated,), broken)
    bus.publish(order_event(1))
    assert len(sub) == 1


async def test_async_consumer_wakes_on_publish() -> None:
    bus = EventBus()
    sub = bus.subscribe(OrderUpdated)
    consumer = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    bus.publish(order_event(7))
    event = await consumer
    assert isinstance(event, OrderUpdated) and event.order.created_ts == 7


async def test_closing_ends_iteration() -> None:
    bus = EventBus()
    sub = bus.subscribe(OrderUpdated)
    received: list[object] = []

    async def consume() -> None:
        async for event in sub:
            received.append(event)

    task = asyncio.create_task(consume())
    bus.publish(order_event(1))
    await asyncio.sleep(0)
    sub.close()
    await task
    assert len(received) == 1


async def test_sim_clock_sleep_returns_only_when_advanced() -> None:
    clock = SimClock(start_ms=0)
    done = asyncio.create_task(clock.sleep(30))
    await asyncio.sleep(0)
    clock.advance(29_999)
    await asyncio.sleep(0)
    assert not done.done()
    clock.advance(1)
    await done
    assert clock.now_ms() == 30_000


def test_a_book_given_later_is_made_once_on_its_first_read() -> None:
    """A venue may publish what makes a book: the bus coalesces, the market cache keeps, the
    stream names such events without making the book; the first read
    makes it, every reader then gets that one book, equal and encoded as the book given made."""
    made: list[int] = []

    def later(ts: int) -> OrderBookUpdated:
        return OrderBookUpdated.later("paper", "BTC/USDT", lambda: made.append(ts) or book("BTC/USDT", ts).book)

    bus = EventBus()
    market = MarketCache(bus)
    sub = bus.subscribe(OrderBookUpdated, maxsize=10)
    for ts in range(3):
        bus.publish(later(ts))
    (latest,) = sub.drain()
    assert (latest.venue, latest.symbol, topic_of(latest)) == ("paper", "BTC/USDT", "book:paper:BTC/USDT")
    assert made == []
    first = market.book("paper", "BTC/USDT")
    assert first is latest.book is market.book("paper", "BTC/USDT")
    assert made == [2]
    given = book("BTC/USDT", 2)
    assert latest == given and event_json(latest) == event_json(given)
    assert (given.venue, given.symbol, given.coalesce_key) == ("paper", "BTC/USDT", latest.coalesce_key)
