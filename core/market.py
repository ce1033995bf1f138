"""The latest market state, kept current by bus listeners so readers never wait.

The TUI, the risk manager and strategies read books, marks and candles from here instead of
each keeping their own copy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from decimal import Decimal

from core.events import (
    CandleClosed,
    ConnectionChanged,
    Event,
    EventBus,
    MarketStatsUpdated,
    OrderBookUpdated,
    TickerUpdated,
    TradePrinted,
)
from core.models import Candle, MarketStats, OrderBook, Ticker, Trade

TIMEFRAMES_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000}
MAX_TRADES = 200
MAX_CANDLES = 500


def period_ms(timeframe: str) -> int:
    """A timeframe's length; ValueError naming it when it is not like 1m, 4h or 1d."""
    known = TIMEFRAMES_MS.get(timeframe)
    if known is not None:
        return known
    from core.backtest.data import timeframe_ms  # brings numpy: only for the unusual timeframes

    return timeframe_ms(timeframe)


class CandleBuilder:
    """Aggregates trades into candles of one timeframe; the open candle is the last one. The
    candles' times are the trades', so they close on the venue's clock."""

    def __init__(self, period_ms: int, keep: int = MAX_CANDLES) -> None:
        self.period_ms = period_ms
        self.candles: deque[Candle] = deque(maxlen=keep)

    def _rows(self, ticks: list[tuple[int, float, float]]) -> list[list[float]]:
        """[start, open, high, low, close, volume] of time-ordered ticks, one list per candle."""
        period = self.period_ms
        rows: list[list[float]] = []
        for ts, price, size in ticks:
            start = ts - ts % period
            if rows and start == rows[-1][0]:
                row = rows[-1]
                row[2] = max(row[2], price)
                row[3] = min(row[3], price)
                row[4] = price
                row[5] += size
            elif not rows or start > rows[-1][0]:
                rows.append([start, price, price, price, price, size])
        return rows

    def extend(self, ticks: list[tuple[int, float, float]]) -> None:
        """Many time-ordered ticks at once (seeded history): one model per candle, not one
        attribute update per tick, which makes a fresh venue's start-up several times faster."""
        candles = self.candles
        last = candles[-1] if candles else None
        for start, o, h, low, c, v in self._rows(ticks):
            if last is not None and start == last.ts:
                last.high, last.low, last.close = max(last.high, h), min(last.low, low), c
                last.volume += v
            elif last is None or start > last.ts:
                last = Candle(ts=int(start), open=o, high=h, low=low, close=c, volume=v)
                candles.append(last)

    def prepend(self, ticks: list[tuple[int, float, float]], keep: int) -> None:
        """Time-ordered ticks from before every candle kept (history reaching further back),
        keeping at least ``keep`` candles from now on."""
        rows = self._rows(ticks)
        first = self.candles[0] if self.candles else None
        if first is not None and rows and rows[-1][0] == first.ts:
            start, o, h, low, _, v = rows.pop()
            first.open, first.high, first.low = o, max(first.high, h), min(first.low, low)
            first.volume += v
        older = Candle.trusted_many((int(start), o, h, low, c, v) for start, o, h, low, c, v in rows
                                    if first is None or start < first.ts)
        self.candles = deque([*older, *self.candles], maxlen=max(keep, self.candles.maxlen or 0))

    def backfill(self, history: list[Candle]) -> None:
        """A venue's candles, oldest first, ahead of those built here. The one both hold keeps
        this process's close and takes the venue's open and extremes, which saw the whole
        period; its volume is the larger of the two, as the venue's may count trades seen here."""
        candles = self.candles
        first = candles[0] if candles else None
        older = [c for c in history if first is None or c.ts < first.ts]
        if first is not None:
            same = next((c for c in history if c.ts == first.ts), None)
            if same is not None:
                first.open, first.high, first.low = same.open, max(first.high, same.high), min(first.low, same.low)
                first.volume = max(first.volume, same.volume)
        elif older:
            older[-1] = older[-1].model_copy()  # the open candle: the next trades change it, not the caller's
        self.candles = deque([*older, *candles], maxlen=candles.maxlen)

    def add(self, ts: int, price: float, size: float) -> None:
        """One trade. The open candle's fields are written in its ``__dict__``: through the
        model's ``__setattr__`` (which validates nothing here) the four writes cost three times
        the rest, for every trade and timeframe of every market."""
        start = ts - ts % self.period_ms
        last = self.candles[-1] if self.candles else None
        if last is None or start > last.ts:
            self.candles.append(Candle.trusted(start, price, price, price, price, size))
        elif start == last.ts:
            fields = last.__dict__
            if price > fields["high"]:
                fields["high"] = price
            elif price < fields["low"]:
                fields["low"] = price
            fields["close"] = price
            fields["volume"] += size


class MarketCache:
    def __init__(self, bus: EventBus) -> None:
        # the latest event of each book by its coalescing key ("book", venue, symbol), read
        # without making the book, which is made when first read (OrderBookUpdated)
        self._books: dict[Hashable, OrderBookUpdated] = {}
        self._tickers: dict[tuple[str, str], Ticker] = {}
        self._trades: dict[tuple[str, str], deque[Trade]] = {}
        self._candles: dict[tuple[str, str], dict[str, CandleBuilder]] = {}
        self._connections: dict[str, tuple[str, float | None]] = {}
        self._stats: dict[tuple[str, str], MarketStats] = {}
        bus.add_listener(
            (OrderBookUpdated, TickerUpdated, TradePrinted, CandleClosed, ConnectionChanged, MarketStatsUpdated),
            self._on_event,
        )

    def _on_event(self, event: Event) -> None:
        if isinstance(event, OrderBookUpdated):
            self._books[event.coalesce_key] = event
        elif isinstance(event, TradePrinted):
            trade = event.trade
            key = (trade.venue, trade.symbol)
            tape = self._trades.get(key)
            if tape is None:
                tape = self._trades[key] = deque(maxlen=MAX_TRADES)
            tape.append(trade)
            # converted once for the timeframes' candles: hundreds of trades a second
            ts, price, size = trade.ts, float(trade.price), float(trade.size)
            for builder in self._builders(key).values():
                builder.add(ts, price, size)
        elif isinstance(event, TickerUpdated):
            self._tickers[(event.ticker.venue, event.ticker.symbol)] = event.ticker
        elif isinstance(event, ConnectionChanged):
            self._connections[event.venue] = (event.state, event.latency_ms)
        elif isinstance(event, MarketStatsUpdated):
            self._stats[(event.stats.venue, event.stats.symbol)] = event.stats

    def _builders(self, key: tuple[str, str]) -> dict[str, CandleBuilder]:
        builders = self._candles.get(key)
        if builders is None:
            builders = self._candles[key] = {tf: CandleBuilder(ms) for tf, ms in TIMEFRAMES_MS.items()}
        return builders

    def backfill(self, venue: str, symbol: str, timeframe: str, history: list[Candle]) -> None:
        """History from before this process saw the market (see ``CandleBuilder.backfill``)."""
        builder = self._builders((venue, symbol)).get(timeframe)
        if builder is not None:
            builder.backfill(history)

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        latest = self._books.get(("book", venue, symbol))
        return latest.book if latest is not None else None

    def ticker(self, venue: str, symbol: str) -> Ticker | None:
        return self._tickers.get((venue, symbol))

    def trades(self, venue: str, symbol: str) -> list[Trade]:
        return list(self._trades.get((venue, symbol), ()))

    def candles(self, venue: str, symbol: str, timeframe: str = "1m") -> list[Candle]:
        builders = self._candles.get((venue, symbol))
        if builders is None or timeframe not in builders:
            return []
        return list(builders[timeframe].candles)

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        """Mark price, else last trade, else book mid: the best price we know."""
        ticker = self._tickers.get((venue, symbol))
        if ticker is not None:
            for value in (ticker.mark, ticker.last):
                if value is not None:
                    return value
        book = self.book(venue, symbol)
        if book is not None and book.mid is not None:
            return book.mid
        trades = self._trades.get((venue, symbol))
        return trades[-1].price if trades else None

    def stats(self, venue: str, symbol: str) -> MarketStats | None:
        """The data service's latest reading of the market (funding, open interest, ...)."""
        return self._stats.get((venue, symbol))

    def connection(self, venue: str) -> tuple[str, float | None]:
        return self._connections.get(venue, ("connecting", None))
