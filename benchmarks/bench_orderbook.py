"""Order books on the production path: Binance diff-depth messages through ccxt.pro's own book
handling, then the ccxt venue's ``_on_book``, to the ``OrderBookUpdated`` on the bus that the
TUI and strategies read; beside it the peer, ccxt.pro applying the same messages alone.

The stream is generated, seeded, in Binance's format (a REST depth snapshot, then ``depthUpdate``
messages ``{"U", "u", "b": [[price, qty] as strings], "a": ...}``): ~2,000 levels around 42,000
USDT, each message changing 1-12 levels (updates, removals, new levels) as a live BTC/USDT feed
does. Each run starts ccxt's book from the snapshot, as ccxt.pro does after subscribing; then per
message ccxt's Binance handler applies it by update id and ``limit()`` trims the book (what
``watch_order_book`` returns), and ours then publishes the top 20 levels, to the market cache
(``core.market.MarketCache``, where the screen, strategies and risk checks read books) and the
screen's subscription. The venue publishes what makes the book and the book is made on its
first read, so the loop reads as production does: every ``--read-every`` messages (20) it drains
the screen's subscription and reads the book from the market cache, as a frame of the TUI does.
The TUI draws 8 frames a second (``ui.refresh_hz``): against ``bench_tui``'s feed of 590 book
updates a second that is one read in 74 updates, and at the rate measured here (~50,000 messages
a second) one in thousands; strategies and risk checks read on their own, slower schedules. One
in 20 is a conservative rate. ``updates_per_s_all_read`` is the same loop reading the book
after every message. Runs alternate between
ours and the peer; each loop is timed in CPU time (on a machine shared by several busy processes
the wall clock measures the neighbours) and the best run of each is reported, the best wall-clock
run beside it, with ``ratio`` = ours / peer and the load average before and after.
``updates_per_s`` counts level changes (deltas) per second, end to end; ``us_per_message`` gives
ccxt's share and ours (the venue's copying, publishing and the reads' conversion) apart.

``paper_updates_per_s`` is the same path in paper mode (paper trading on the live book): each
published book also becomes the simulated account's liquidity (``PaperAccount.on_book``), with
two resting orders of ours 1% away from the touch, on both sides, for the book to be matched
against. It has no target of its own; the run checks that the simulated book's top is the live
book's, level for level.
Run: ``python benchmarks/bench_orderbook.py [--quick] [--read-every N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import load_average  # noqa: E402
from core.clock import SimClock  # noqa: E402
from core.config import CcxtVenueConfig  # noqa: E402
from core.events import EventBus, OrderBookUpdated, Subscription  # noqa: E402
from core.market import MarketCache  # noqa: E402
from core.models import Order, OrderStatus, OrderType, Side  # noqa: E402
from exchanges.ccxt import mapping  # noqa: E402
from exchanges.ccxt.venue import BOOK_DEPTH, CcxtVenue  # noqa: E402

TICK = Decimal("0.01")
SYMBOL = "BTC/USDT"
TARGET_DELTAS_PER_S = 300_000
MARKET = {"id": "BTCUSDT", "symbol": SYMBOL, "base": "BTC", "quote": "USDT", "baseId": "BTC", "quoteId": "USDT",
          "lowercaseId": "btcusdt", "type": "spot", "spot": True, "margin": False, "swap": False, "future": False,
          "option": False, "contract": False, "active": True, "precision": {"price": 0.01, "amount": 0.00001},
          "limits": {}}


def generate(deltas: int, seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A snapshot and messages carrying at least ``deltas`` level changes."""
    rng = random.Random(seed)
    mid = 4_200_000  # in ticks
    bids = {mid - i: rng.randint(1, 500_000) for i in range(1, 1001)}
    asks = {mid + i: rng.randint(1, 500_000) for i in range(0, 1000)}

    def text(ticks: int, lots: int) -> list[str]:
        return [f"{ticks * TICK:.8f}", f"{lots / 100_000:.8f}"]

    snapshot = {"lastUpdateId": 1000, "bids": [text(p, q) for p, q in bids.items()],
                "asks": [text(p, q) for p, q in asks.items()]}
    messages, total, seq = [], 0, 1000
    while total < deltas:
        changes: dict[str, list[list[str]]] = {"b": [], "a": []}
        for _ in range(rng.randint(1, 12)):
            side, levels = ("b", bids) if rng.random() < 0.5 else ("a", asks)
            best = max(bids) if side == "b" else min(asks)
            offset = int(rng.expovariate(1 / 15))
            price = best - offset if side == "b" else best + offset
            roll = rng.random()
            if roll < 0.15 and price in levels and len(levels) > 100:
                del levels[price]
                changes[side].append(text(price, 0))
            else:
                levels[price] = rng.randint(1, 500_000)
                changes[side].append(text(price, levels[price]))
        n = len(changes["b"]) + len(changes["a"])
        messages.append({"e": "depthUpdate", "E": 1_704_067_200_000 + seq, "s": "BTCUSDT",
                         "U": seq + 1, "u": seq + n, "b": changes["b"], "a": changes["a"]})
        seq += n
        total += n
    return snapshot, messages


class Feed:
    """ccxt.pro's Binance exchange offline, with the venue that reads its books: messages go
    in through ccxt's own handler, as its websocket client would hand them over."""

    def __init__(self, venue: CcxtVenue, snapshot: dict[str, Any], market: MarketCache, screen: Subscription) -> None:
        self.venue = venue
        self.market = market
        self.screen = screen
        self.exchange = venue.exchange
        self.exchange.set_markets([MARKET])
        self.client = self.exchange.client(self.exchange.urls["api"]["ws"]["spot"])
        self.snapshot = self.exchange.parse_order_book(snapshot, SYMBOL)
        self.snapshot["nonce"] = snapshot["lastUpdateId"]

    def fresh_book(self) -> Any:
        """ccxt's book for the market as it stands after the REST snapshot."""
        book = self.exchange.order_book({}, 1000)
        book.reset(self.snapshot)
        self.exchange.orderbooks[SYMBOL] = book
        return book

    def peer(self, messages: list[dict[str, Any]]) -> tuple[float, float]:
        """Wall and CPU seconds of ccxt alone."""
        book = self.fresh_book()
        handle, client = self.exchange.handle_order_book, self.client
        start, cpu = time.perf_counter(), time.process_time()
        for message in messages:
            handle(client, message)
            book.limit()
        return time.perf_counter() - start, time.process_time() - cpu

    def ours(self, frames: list[list[dict[str, Any]]]) -> tuple[float, float]:
        """Wall and CPU seconds of ccxt then the venue, each frame's messages then a read of
        the book as the screen's frame reads it."""
        book = self.fresh_book()
        handle, client, on_book = self.exchange.handle_order_book, self.client, self.venue._on_book
        drain, read, venue = self.screen.drain, self.market.book, self.venue.name
        start, cpu = time.perf_counter(), time.process_time()
        for frame in frames:
            for message in frame:
                handle(client, message)
                on_book(SYMBOL, book.limit())
            drain()
            read(venue, SYMBOL)
        return time.perf_counter() - start, time.process_time() - cpu

    def check(self) -> None:
        """The last published book is ccxt's top of the book, exactly, and not crossed."""
        raw = self.exchange.orderbooks[SYMBOL]
        book = self.venue.books[SYMBOL]
        assert self.market.book(self.venue.name, SYMBOL) is book
        assert book.bids == [(Decimal(repr(p)), Decimal(repr(q))) for p, q in raw["bids"][:BOOK_DEPTH]]
        assert book.asks == [(Decimal(repr(p)), Decimal(repr(q))) for p, q in raw["asks"][:BOOK_DEPTH]]
        assert book.best_bid is not None and book.best_ask is not None and book.best_bid < book.best_ask, "crossed"
        paper = self.venue._paper
        if paper is not None:
            engine = paper.exchange.engine(SYMBOL)
            tick, lot = engine.instrument.tick_size, engine.instrument.lot_size
            assert engine.depth(BOOK_DEPTH) == tuple([(int(p / tick), int(q // lot)) for p, q in levels if q >= lot]
                                                     for levels in (book.bids, book.asks)), "paper book"

    def rest_orders(self) -> None:
        """Paper mode: a buy and a sell of ours resting 1% outside the touch."""
        paper, book = self.venue._paper, self.venue.books[SYMBOL]
        assert paper is not None and book.best_bid is not None and book.best_ask is not None
        for side, price in ((Side.BUY, book.best_bid * Decimal("0.99")), (Side.SELL, book.best_ask * Decimal("1.01"))):
            order = Order(client_order_id=f"bench-{side.value}", venue="binance", symbol=SYMBOL, side=side,
                          type=OrderType.LIMIT, size=Decimal("0.01"), price=price.quantize(TICK))
            assert paper.submit(order).status is OrderStatus.OPEN


def emit(metric: str, value: float, unit: str, target: float | None, peer: float | None = None,
         ratio: float | None = None, **extra: Any) -> None:
    line: dict[str, Any] = {"bench": "orderbook", "metric": metric, "value": round(value, 1), "unit": unit,
                            "target": target}
    if peer is not None:
        line["peer_value"] = round(peer, 1)
    if ratio is not None:
        line["ratio"] = round(ratio, 3)
    print(json.dumps({**line, **extra}))


def venue(mode: str, bus: EventBus, cache: Path) -> CcxtVenue:
    """The ccxt venue as the engine starts it, minus the streams."""
    config = CcxtVenueConfig(exchange="binance", mode=mode, markets=[SYMBOL],
                             balances={"USDT": Decimal(10_000_000), "BTC": Decimal(100)})
    venue = CcxtVenue("binance", config, SimClock(start_ms=1_704_067_200_000), cache)
    venue._bus = bus  # what start() attaches, without starting the streams
    return venue


def frames(messages: list[dict[str, Any]], every: int) -> list[list[dict[str, Any]]]:
    """The messages in runs of ``every``, a read of the book after each run."""
    return [messages[i:i + every] for i in range(0, len(messages), every)]


async def measure(deltas: int, runs: int, seed: int, read_every: int) -> None:
    snapshot, messages = generate(deltas, seed)
    applied = sum(len(m["b"]) + len(m["a"]) for m in messages)
    bus = EventBus()
    market = MarketCache(bus)
    screen = bus.subscribe(OrderBookUpdated, maxsize=100, name="screen")
    some, each = frames(messages, read_every), frames(messages, 1)
    with tempfile.TemporaryDirectory() as cache:
        feed = Feed(venue("live", bus, Path(cache)), snapshot, market, screen)
        paper = Feed(venue("paper", bus, Path(cache)), snapshot, market, screen)
        instrument = mapping.instrument_from_market("binance", paper.exchange.markets[SYMBOL],
                                                    paper.exchange.precisionMode)
        assert paper.venue._paper is not None and instrument is not None
        paper.venue.instruments = {SYMBOL: instrument}
        paper.venue._paper.attach(bus, paper.venue.instruments)
        load_before = load_average()
        try:
            times: dict[str, list[tuple[float, float]]] = {"ours": [], "peer": [], "all_read": [], "paper": []}
            for _ in range(runs):
                times["ours"].append(feed.ours(some))
                feed.check()
                times["peer"].append(feed.peer(messages))
                times["all_read"].append(feed.ours(each))
                feed.check()
                paper.ours(each[:1])
                paper.rest_orders()
                times["paper"].append(paper.ours(some))
                paper.check()
        finally:
            await feed.exchange.close()
            await paper.exchange.close()
    load = f"{load_before} -> {load_average()}"
    wall, cpu = 0, 1
    ours, peer, all_read, in_paper = (min(run[cpu] for run in times[name]) for name in ("ours", "peer", "all_read", "paper"))
    wall_ours, wall_peer = (min(run[wall] for run in times[name]) for name in ("ours", "peer"))
    emit("updates_per_s", applied / ours, "deltas/s", TARGET_DELTAS_PER_S, applied / peer, peer / ours,
         clock="cpu", wall_value=round(applied / wall_ours, 1), wall_peer_value=round(applied / wall_peer, 1),
         runs=runs, deltas=applied, read_every=read_every,
         reads=f"the book read from the market cache every {read_every} messages, as a frame of the screen reads it",
         load=load)
    emit("updates_per_s_all_read", applied / all_read, "deltas/s", None, applied / peer, peer / all_read, clock="cpu",
         read_every=1, reads="the book read after every message", us_per_message=round(all_read / len(messages) * 1e6, 2))
    emit("messages_per_s", len(messages) / ours, "messages/s", None, len(messages) / peer, clock="cpu")
    emit("us_per_message", ours / len(messages) * 1e6, "us", None, peer / len(messages) * 1e6, clock="cpu",
         venue_share=round((ours - peer) / len(messages) * 1e6, 2))
    emit("paper_updates_per_s", applied / in_paper, "deltas/s", None, applied / peer, peer / in_paper, clock="cpu",
         us_per_message=round(in_paper / len(messages) * 1e6, 2),
         paper_share=round((in_paper - ours) / len(messages) * 1e6, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 deltas, 3 runs (instead of 300,000 and 5)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--read-every", type=int, default=20,
                        help="messages between two reads of the book, as a frame of the screen reads it (20)")
    args = parser.parse_args()
    if args.read_every < 1:
        parser.error("--read-every must be 1 or more")
    deltas, runs = (100_000, 3) if args.quick else (300_000, 5)
    asyncio.run(measure(deltas, runs, args.seed, args.read_every))


if __name__ == "__main__":
    main()
