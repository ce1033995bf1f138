"""The candles the agents analyse, kept from one cycle to the next.

The first time a market and timeframe is asked for, its last ``size`` candles are fetched from
the venue (the warm-up: a ccxt venue pages through the exchange's limit, the paper venue has
them seeded), so the very first analysis has all the history its indicators need. Later cycles
fetch only the candles since the last one kept, so a cycle costs one short request per market
and timeframe however long the history. The Risk agent's correlation check reads the peers'
candles from the same store.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from agents.base import Candles
from core.models import Candle

log = logging.getLogger(__name__)


class CandleSource(Protocol):
    """The part of a venue (``core.ports.ExchangeAdapter``) the store reads."""

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int = 500
    ) -> list[Candle]: ...


class CandleHistory:
    def __init__(self, venues: Mapping[str, CandleSource], size: int) -> None:
        self._venues = venues
        self.size = size
        self._kept: dict[tuple[str, str, str], list[Candle]] = {}

    async def candles(self, venue: str, symbol: str, timeframe: str) -> Candles:
        """The last ``size`` candles (the current, still open one last); raises the venue's
        error (``VenueError``) when it cannot answer."""
        key = (venue, symbol, timeframe)
        kept = self._kept.get(key)
        source = self._venues[venue]
        if kept:
            # from the last one kept, which may have been open; a full page means a longer gap
            newer = await source.fetch_ohlcv(symbol, timeframe, since=kept[-1].ts, limit=self.size)
            if len(newer) < self.size:
                kept = [c for c in kept if not newer or c.ts < newer[0].ts] + newer
            else:
                kept = newer
        else:
            kept = await source.fetch_ohlcv(symbol, timeframe, limit=self.size)
            if len(kept) < self.size:
                log.info("%s %s on %s: %d of %d candles of history to start with", symbol, timeframe, venue,
                         len(kept), self.size)
        kept = kept[-self.size:]
        self._kept[key] = kept
        return Candles.from_models(kept)
