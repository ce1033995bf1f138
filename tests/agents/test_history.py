"""The agents' candle store: the whole history once at start, then only what closed since."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.history import CandleHistory
from core.clock import SimClock
from core.config import PaperVenueConfig
from core.models import Candle
from exchanges.paper.venue import PaperVenue


class Recorded:
    """A real venue whose candle requests are written down."""

    def __init__(self, venue: PaperVenue) -> None:
        self.venue = venue
        self.asked: list[dict[str, Any]] = []

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int = 500) -> list[Candle]:
        self.asked.append({"since": since, "limit": limit})
        return await self.venue.fetch_ohlcv(symbol, timeframe, since, limit)


async def test_the_history_is_fetched_once_then_topped_up(tmp_path: Path, clock: SimClock) -> None:
    venue = PaperVenue("paper", PaperVenueConfig(markets=[{"symbol": "BTC/USDT"}]), clock, tmp_path / "p.sqlite")  # type: ignore[list-item]
    source = Recorded(venue)
    store = CandleHistory({"paper": source}, 400)
    first = await store.candles("paper", "BTC/USDT", "1m")
    assert len(first) == 400 and source.asked == [{"since": None, "limit": 400}]
    for _ in range(1800):  # three minutes of trading
        clock.advance(100)
        venue.step()
    later = await store.candles("paper", "BTC/USDT", "1m")
    assert source.asked[1] == {"since": int(first.ts[-1]), "limit": 400}, "only what came since the last candle"
    assert len(later) == 400 and later.ts[-1] == first.ts[-1] + 3 * 60_000
    assert list(later.ts) == list(range(int(later.ts[0]), int(later.ts[-1]) + 1, 60_000)), "no gap, no repeat"
    assert list(later.close[:-4]) == list(first.close[3:-1]), "closed candles are kept as they were"
    venue.close()
