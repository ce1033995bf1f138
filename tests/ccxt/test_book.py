"""The book the app reads is ccxt.pro's book. A seeded Binance diff-depth stream goes through
ccxt.pro's own handlers (subscription, REST snapshot, buffered deltas replayed by update id,
then each ``depthUpdate``), and after every message the venue's published top 20 levels equal
ccxt's book and the exchange's true book: level updates, removals that bring deeper levels
into view, a crossed book passed through as it is, a late duplicate, and a gap after which
ccxt fetches a new snapshot. In live mode the book is made on its first read, equal to the book
made at once."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from ccxt.base.errors import ChecksumError

from core.events import EventBus, OrderBookUpdated
from core.market import MarketCache
from core.models import OrderBook
from exchanges.ccxt import book as book_module
from exchanges.ccxt.book import BookView, Level
from exchanges.ccxt.venue import BOOK_DEPTH, CcxtVenue
from tests.ccxt.fakes import install_binance
from tests.ccxt.server import FakeExchange

SYMBOL = "BTC/USDT"
MID = 4_200_000  # ticks of 0.01


def text(ticks: int, lots: int) -> list[str]:
    """A level as Binance sends it: strings with eight decimals."""
    return [f"{Decimal(ticks) / 100:.8f}", f"{Decimal(lots) / 100_000:.8f}"]


class Exchange:
    """Binance's true book (ticks -> lots per side) and the messages that change it."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sides: dict[str, dict[int, int]] = {
            "b": {MID - i: self.rng.randint(1, 90_000) for i in range(1, 60)},
            "a": {MID + i: self.rng.randint(1, 90_000) for i in range(0, 60)},
        }
        self.last_id = 5000
        self.best_removed = 0  # removals of a best level, after which a deeper one shows

    def snapshot(self) -> dict[str, Any]:
        """The REST depth answer, as ccxt.pro fetches it to start or resynchronise a book."""
        return {"lastUpdateId": self.last_id,
                "bids": [text(p, q) for p, q in sorted(self.sides["b"].items(), reverse=True)],
                "asks": [text(p, q) for p, q in sorted(self.sides["a"].items())]}

    def top(self, depth: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        snapshot = self.snapshot()
        return ([(Decimal(p), Decimal(q)) for p, q in snapshot["bids"][:depth]],
                [(Decimal(p), Decimal(q)) for p, q in snapshot["asks"][:depth]])

    def message(self, cross: bool = False) -> dict[str, Any]:
        """A depthUpdate of 1-6 changes near the top: new sizes, new levels, removals (often of
        the best level); ``cross`` adds a bid above the best ask."""
        rng, changes = self.rng, {"b": [], "a": []}  # type: ignore[var-annotated]
        for _ in range(rng.randint(1, 6)):
            side = rng.choice("ba")
            levels = self.sides[side]
            best = max(levels) if side == "b" else min(levels)
            price = best - rng.randint(0, 25) if side == "b" else best + rng.randint(0, 25)
            if rng.random() < 0.3 and price in levels and len(levels) > 25:
                del levels[price]
                changes[side].append(text(price, 0))
                self.best_removed += price == best
            else:
                levels[price] = rng.randint(1, 90_000)
                changes[side].append(text(price, levels[price]))
        if cross:
            price = min(self.sides["a"]) + 3
            self.sides["b"][price] = 777
            changes["b"].append(text(price, 777))
        first = self.last_id + 1
        self.last_id += len(changes["b"]) + len(changes["a"])
        return {"e": "depthUpdate", "E": 1_704_067_200_000 + self.last_id, "s": "BTCUSDT",
                "U": first, "u": self.last_id, "b": changes["b"], "a": changes["a"]}


def ccxt_top(raw: dict[str, Any]) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    """ccxt's levels converted the plain way: Decimal from each float's shortest text."""
    return ([(Decimal(repr(p)), Decimal(repr(q))) for p, q in raw["bids"][:BOOK_DEPTH]],
            [(Decimal(repr(p)), Decimal(repr(q))) for p, q in raw["asks"][:BOOK_DEPTH]])


class Stream:
    """ccxt.pro's Binance book handling driven message by message, as its websocket would."""

    def __init__(self, server: FakeExchange, venue: CcxtVenue, truth: Exchange) -> None:
        self.server, self.venue, self.truth = server, venue, truth
        self.ccxt = venue.exchange
        self.client = self.ccxt.client("ws://127.0.0.1/stream")  # "/stream": a spot socket
        self.published: list[OrderBook] = []

    async def subscribe(self, snapshot: dict[str, Any], early: list[dict[str, Any]]) -> None:
        """ccxt's subscription: an empty book buffering deltas (``early`` arrive then), the REST
        ``snapshot``, the buffered deltas after it replayed; then the book is published."""
        self.server.route("GET", "/api/v3/depth", lambda _req: snapshot)
        ready = self.client.future("orderbook::" + SYMBOL)
        self.ccxt.handle_order_book_subscription(
            self.client, {"id": 1}, {"symbols": [SYMBOL], "type": "spot", "params": {}})
        for message in early:
            self.ccxt.handle_order_book(self.client, message)
        self.publish(await ready)

    def deliver(self, message: dict[str, Any]) -> bool:
        """One message through ccxt, then the venue, as ``watch_order_book`` hands it over.
        False when ccxt dropped the book (a gap)."""
        self.ccxt.handle_order_book(self.client, message)
        raw = self.ccxt.orderbooks.get(SYMBOL)
        if raw is None:
            return False
        self.publish(raw.limit())
        return True

    def publish(self, raw: dict[str, Any]) -> None:
        self.venue._on_book(SYMBOL, raw)
        book = self.venue.books[SYMBOL]
        self.published.append(book)
        assert (book.bids, book.asks) == ccxt_top(raw)
        assert (book.bids, book.asks) == self.truth.top(BOOK_DEPTH)
        assert book.ts == (raw["timestamp"] or self.venue.clock.now_ms())
        assert (book.venue, book.symbol) == ("binance", SYMBOL)


async def test_published_book_equals_ccxt_book_after_every_message(server: FakeExchange, make_venue) -> None:
    install_binance(server)
    venue = make_venue("binance", mode="paper")
    await venue.load_instruments()
    truth = Exchange(seed=11)
    stream = Stream(server, venue, truth)
    before = truth.message()  # already in the snapshot: ccxt skips it when replaying
    snapshot = truth.snapshot()
    await stream.subscribe(snapshot, [before, truth.message(), truth.message()])
    assert stream.published[-1].ts == truth.last_id + 1_704_067_200_000

    for n in range(1, 601):
        message = truth.message(cross=n % 150 == 0)
        assert stream.deliver(message)
        if n % 150 == 0:
            top = stream.published[-1]
            assert top.best_bid is not None and top.best_ask is not None and top.best_bid > top.best_ask
        if n == 300:
            assert stream.deliver(message)  # the same message again, late: ccxt ignores it
    assert truth.best_removed > 20

    truth.message()  # lost on the way: the next one skips its update ids
    assert not stream.deliver(truth.message())
    assert SYMBOL not in stream.ccxt.orderbooks
    # what the next watch_order_book raises; the stream supervisor then subscribes again
    assert isinstance(stream.client.rejections.pop("orderbook::" + SYMBOL), ChecksumError)
    resync = len(stream.published)
    await stream.subscribe(truth.snapshot(), [])
    assert len(server.calls("GET", "/api/v3/depth")) == 2
    for _ in range(100):
        assert stream.deliver(truth.message())
    assert len(stream.published) == resync + 101
    assert venue.reference_price(SYMBOL) == stream.published[-1].mid


def test_a_level_whose_size_changes_is_converted_again() -> None:
    view = BookView("binance", SYMBOL, 3)

    class Clock:
        def now_ms(self) -> int:
            return 7

    sizes = [0.5, 0.25, 0.5, 1e-08]
    for size in sizes:
        book = view.convert({"bids": [[42000.01, size], [42000.0, 0.1]], "asks": [], "timestamp": None}, Clock())
        assert book.bids == [(Decimal("42000.01"), Decimal(repr(size))), (Decimal("42000.0"), Decimal("0.1"))]
        assert book.ts == 7 and book.asks == []


def test_levels_stay_exact_when_the_memory_starts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(book_module, "MEMORY", 4)
    view = BookView("binance", SYMBOL, 5)
    rng = random.Random(5)
    for _ in range(200):
        asks = [[round(100 + rng.randint(0, 40) * 0.01, 2), round(rng.random(), 6)] for _ in range(5)]
        asks.sort()
        book = view.convert({"bids": [], "asks": asks, "timestamp": 1}, None)  # type: ignore[arg-type]
        assert book.asks == [(Decimal(repr(p)), Decimal(repr(q))) for p, q in asks]


async def test_books_made_when_read_equal_books_made_at_once(server: FakeExchange, make_venue) -> None:
    """Live mode makes a book on its first read, from what the venue copied when the update
    came: read at seeded moments, the book of every update, old or latest, read once or by
    several readers, equals the book converted at once after its message (ccxt's levels and the
    true book), and an update nobody read has made nothing."""
    install_binance(server)
    venue = make_venue("binance", mode="live")
    await venue.load_instruments()
    bus = EventBus()
    market = MarketCache(bus)
    venue._bus = bus  # what start() attaches, without starting the streams
    truth = Exchange(seed=23)
    stream = Stream(server, venue, truth)
    stream.publish = lambda raw: venue._on_book(SYMBOL, raw)  # type: ignore[method-assign]
    published = bus.subscribe(OrderBookUpdated, maxsize=10_000)
    await stream.subscribe(truth.snapshot(), [truth.message()])
    rng = random.Random(3)
    unread: list[tuple[OrderBookUpdated, tuple[list[Level], list[Level]], int]] = []
    for n in range(1, 1201):
        assert stream.deliver(truth.message(cross=n % 300 == 0))
        raw = stream.ccxt.orderbooks[SYMBOL]
        (event,) = published.drain()
        assert not isinstance(event._book, OrderBook)  # type: ignore[attr-defined]  # nobody has read it yet
        assert event.coalesce_key == ("book", "binance", SYMBOL)
        expected = ccxt_top(raw)
        assert expected == truth.top(BOOK_DEPTH)
        unread.append((event, expected, raw["timestamp"]))
        roll = rng.random()
        if roll < 0.05:  # a frame: the latest book, through the market cache and the venue
            book = market.book("binance", SYMBOL)
            assert book is venue.books[SYMBOL] is event.book
        elif roll < 0.10:  # someone holding older updates reads them, oldest or newest first
            rng.shuffle(unread)
        else:
            continue
        for old, (bids, asks), ts in unread:
            assert (old.book.bids, old.book.asks, old.book.ts) == (bids, asks, ts)
            assert old.book is old.book
        unread.clear()
    assert truth.best_removed > 20


def test_a_book_made_at_once_equals_the_book_made_later() -> None:
    """``convert`` and ``later`` of the same levels give equal books, even when the levels'
    sizes were written in place between the copy and the read (as ccxt.pro writes them)."""
    view, other = BookView("binance", SYMBOL, 2), BookView("binance", SYMBOL, 2)

    class Clock:
        def now_ms(self) -> int:
            return 9

    raw: dict[str, Any] = {"bids": [[42000.01, 0.5], [42000.0, 0.1]], "asks": [[42000.02, 2e-05]], "timestamp": None}
    at_once = view.convert(raw, Clock())
    event = other.later(raw, Clock())
    raw["bids"][0][1] = 0.75
    raw["asks"].insert(0, [42000.015, 1.0])
    assert event.book == at_once == OrderBook(venue="binance", symbol=SYMBOL, ts=9,
                                          bids=[(Decimal("42000.01"), Decimal("0.5")), (Decimal("42000.0"), Decimal("0.1"))],
                                          asks=[(Decimal("42000.02"), Decimal("0.00002"))])
