"""Downloading a market's candle history into the database, a page at a time.

Each page is stored as soon as it arrives and the covered range is recorded beside it (in the
database's small key-value state), so a download stopped by a dropped connection or Ctrl-C
goes on from its last stored page when run again, and a later run for the same market only
asks for what is new. Only closed candles are stored: a candle still forming would be kept
with its first values and never asked for again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from core.models import Candle
from core.ports import Clock, ExchangeAdapter
from core.storage.interface import Storage

log = logging.getLogger(__name__)

PAGE = 1000  # candles per request to the venue, which splits it into the exchange's own pages
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Series:
    venue: str
    symbol: str
    timeframe: str
    step_ms: int

    @property
    def state_key(self) -> str:
        return f"marketdata.history.{self.venue}.{self.symbol}.{self.timeframe}"


@dataclass(frozen=True)
class Covered:
    """Candles ``first`` to ``last`` (opening times, inclusive) are stored without a hole the
    exchange did not have itself."""

    first: int
    last: int


@dataclass(frozen=True)
class DownloadResult:
    start: int  # where this run began asking
    resumed: bool  # it went on from a range an earlier run had stored
    stored: int  # candles written by this run
    covered: Covered | None  # the whole stored range after this run


async def covered_range(db: Storage, series: Series) -> Covered | None:
    raw = await db.get_state(series.state_key)
    if raw is None:
        return None
    value = json.loads(raw)
    return Covered(int(value["first"]), int(value["last"]))


async def _record(db: Storage, series: Series, covered: Covered) -> None:
    await db.set_state(series.state_key, json.dumps({"first": covered.first, "last": covered.last}))


async def download(
    venue: ExchangeAdapter, db: Storage, series: Series, since_ms: int, clock: Clock,
    progress: Progress = lambda done, total: None,
) -> DownloadResult:
    """Store the closed candles of ``series`` from ``since_ms`` up to now."""
    step = series.step_ms
    start = since_ms - since_ms % step
    until = clock.now_ms() - clock.now_ms() % step  # the opening time of the candle still forming
    before = await covered_range(db, series)
    resumed = before is not None and before.first <= start <= before.last + step
    covered = before if resumed else None
    origin = cursor = before.last + step if resumed and before is not None else start
    total = max(0, (until - origin) // step)
    stored = 0
    progress(0, total)
    while cursor < until:
        page = [c for c in await venue.fetch_ohlcv(series.symbol, series.timeframe, since=cursor, limit=PAGE)
                if cursor <= c.ts < until]
        if not page:
            break
        stored += await db.save_candles(series.venue, series.symbol, series.timeframe, page)
        # from where it was asked: what the exchange has not before the page's first candle it never had
        covered = _extend(covered, cursor, page[-1].ts)
        cursor = page[-1].ts + step
        if before is not None and before.first <= cursor <= before.last:
            # an earlier run stored the candles from here on: joined, not asked for again
            covered = _extend(covered, before.first, before.last)
            cursor = before.last + step
        await _record(db, series, covered)
        progress(min(total, (cursor - origin) // step), total)
    log.info("%s %s %s: %d candles stored from %d", series.venue, series.symbol, series.timeframe, stored, origin)
    return DownloadResult(start=origin, resumed=resumed, stored=stored, covered=covered or before)


def _extend(covered: Covered | None, first: int, last: int) -> Covered:
    if covered is None:
        return Covered(first, last)
    return Covered(min(covered.first, first), max(covered.last, last))


CSV_HEADER = "timestamp,open,high,low,close,volume\n"


def candles_csv(candles: list[Candle]) -> str:
    """The candles file ``opentrade backtest --data`` reads: integer millisecond timestamps
    and plain numbers, written with repr so that a float comes back identical."""
    lines = [f"{c.ts},{c.open!r},{c.high!r},{c.low!r},{c.close!r},{c.volume!r}\n" for c in candles]
    return CSV_HEADER + "".join(lines)
