"""The charts' history from before this process saw a market.

The market cache builds candles from the trades it sees, so without this a fresh start (or an
attached terminal) drew one candle and grew from there. Once the venues run, each configured
market's candles per timeframe are asked of its venue once and put ahead of the live ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from core.market import MAX_CANDLES, TIMEFRAMES_MS, MarketCache
from core.models import Instrument
from core.ports import ExchangeAdapter, VenueError

log = logging.getLogger(__name__)


class ChartHistory:
    """A service: one pass over the markets in the background, so a slow venue never holds the
    start. A timeframe the venue cannot answer leaves that chart to grow from live trades, with
    a warning, and the others are still asked."""

    def __init__(self, venues: Mapping[str, ExchangeAdapter], instruments: Callable[[str], list[Instrument]],
                 cache: MarketCache) -> None:
        self._venues, self._instruments, self._cache = venues, instruments, cache
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.load(), name="chart-history")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def load(self) -> None:
        for name, venue in self._venues.items():
            for instrument in self._instruments(name):
                for timeframe in TIMEFRAMES_MS:
                    try:
                        candles = await venue.fetch_ohlcv(instrument.symbol, timeframe, limit=MAX_CANDLES)
                    except VenueError as exc:
                        log.warning("no %s history of %s on %s, the chart starts from live trades: %s",
                                    timeframe, instrument.symbol, name, exc)
                        continue
                    self._cache.backfill(name, instrument.symbol, timeframe, candles)
                    # A simulated venue answers without waiting: let keys and frames in between.
                    await asyncio.sleep(0)
