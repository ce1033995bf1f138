"""The data service: per configured market, on the engine's clock, what the agents, the
strategies and the Trade screen read beyond the live feed.

Each collection of a market stores its closed candles of one timeframe (kept complete back to
``history`` candles, through the same resumable download as ``opentrade data fetch``), a
summary of its book (spread, depth within 10 bps of the mid), and for a perpetual whose venue
provides them (``DerivativesFeed``) its funding rate history, the current rate and next
payment time, open interest and long/short ratio. The reading is a ``market_stats`` row and a
``MarketStatsUpdated`` event (the engine's market cache keeps the latest for the screens). A
figure the venue cannot give this time is left empty with a warning in the log; one market's
failure never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import TypeVar

from core.config import MarketDataConfig
from core.events import EventBus, MarketStatsUpdated
from core.market import period_ms
from core.marketdata.history import Series, download
from core.models import Instrument, MarketStats, OrderBook
from core.ports import Clock, DerivativesFeed, ExchangeAdapter, VenueError
from core.redact import redact
from core.storage.interface import Storage
from core.tasks import cancel_and_wait

log = logging.getLogger(__name__)

T = TypeVar("T")
DEPTH_BAND = Decimal("0.001")  # 10 bps either side of the mid
BOOK_LEVELS = 50


def book_summary(book: OrderBook | None) -> tuple[float | None, float | None, float | None]:
    """Spread in bps of the mid, and the base amounts bid and offered within 10 bps of it."""
    if book is None or book.best_bid is None or book.best_ask is None or book.mid is None or book.mid <= 0:
        return None, None, None
    mid = book.mid
    spread = float((book.best_ask - book.best_bid) / mid * 10_000)
    bid_depth = sum((size for price, size in book.bids if price >= mid * (1 - DEPTH_BAND)), Decimal(0))
    ask_depth = sum((size for price, size in book.asks if price <= mid * (1 + DEPTH_BAND)), Decimal(0))
    return spread, float(bid_depth), float(ask_depth)


class MarketDataService:
    def __init__(
        self, venues: Mapping[str, ExchangeAdapter], markets: Callable[[], list[Instrument]], db: Storage,
        bus: EventBus, clock: Clock, config: MarketDataConfig,
    ) -> None:
        self._venues = venues
        self._markets = markets
        self._db = db
        self._bus = bus
        self._clock = clock
        self._config = config
        self._step_ms = period_ms(config.timeframe)
        self._task: asyncio.Task[None] | None = None
        self.collections = 0

    async def _figure(self, instrument: Instrument, what: str, read: Awaitable[T]) -> T | None:
        try:
            return await read
        except VenueError as exc:
            log.warning("%s %s: no %s this time: %s", instrument.venue, instrument.symbol, what, redact(str(exc)))
            return None

    async def collect(self, instrument: Instrument) -> MarketStats:
        venue = self._venues[instrument.venue]
        series = Series(instrument.venue, instrument.symbol, self._config.timeframe, self._step_ms)
        since = self._clock.now_ms() - self._config.history * self._step_ms
        await self._figure(instrument, "candles", download(venue, self._db, series, since, self._clock))
        book = await self._figure(instrument, "order book", venue.fetch_order_book(instrument.symbol, BOOK_LEVELS))
        spread, bid_depth, ask_depth = book_summary(book)
        stats = MarketStats(venue=instrument.venue, symbol=instrument.symbol, ts=self._clock.now_ms(),
                            spread_bps=spread, bid_depth=bid_depth, ask_depth=ask_depth)
        if instrument.is_perpetual and isinstance(venue, DerivativesFeed):
            stats = await self._derivatives(instrument, venue, stats)
        await self._db.save_market_stats(stats)
        self._bus.publish(MarketStatsUpdated(stats))
        return stats

    async def _derivatives(self, instrument: Instrument, venue: DerivativesFeed, stats: MarketStats) -> MarketStats:
        symbol = instrument.symbol
        stored = await self._db.load_funding_rates(instrument.venue, symbol, limit=1)
        history = await self._figure(
            instrument, "funding history", venue.fetch_funding_history(symbol, stored[-1].ts + 1 if stored else None))
        await self._db.save_funding_rates(instrument.venue, symbol, history or [])
        funding = await self._figure(instrument, "funding rate", venue.fetch_funding(symbol))
        return stats.model_copy(update={
            "funding_rate": funding.rate if funding else None,
            "next_funding_ts": funding.next_ts if funding else None,
            "open_interest": await self._figure(instrument, "open interest", venue.fetch_open_interest(symbol)),
            "long_short_ratio": await self._figure(instrument, "long/short ratio", venue.fetch_long_short_ratio(symbol)),
        })

    async def run_once(self) -> list[MarketStats]:
        collected = []
        for instrument in self._markets():
            try:
                collected.append(await self.collect(instrument))
            except (VenueError, ValueError) as exc:
                log.warning("%s %s: data collection skipped: %s", instrument.venue, instrument.symbol, redact(str(exc)))
        self.collections += 1
        return collected

    async def run(self) -> None:
        while True:
            await self.run_once()
            await self._clock.sleep(self._config.interval)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="market-data")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
