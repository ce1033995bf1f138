"""The data service against a fake Binance USDⓈ-M on 127.0.0.1, in Binance's own formats:
candles kept stored, the book's spread and depth at 10 bps, funding (history and current),
open interest and the long/short ratio of a perpetual, through ccxt's generic methods; what a
venue cannot give is left empty, never stops the collection."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.config import MarketDataConfig
from core.events import EventBus, MarketStatsUpdated
from core.market import MarketCache
from core.marketdata.service import MarketDataService
from core.storage import Database
from tests.ccxt.conftest import AutoClock
from tests.ccxt.fakes import install_binance
from tests.ccxt.server import FakeExchange, Request
from tests.ccxt.test_ohlcv_pages import HOUR, RECORDED, klines

PERP = "BTC/USDT:USDT"
EIGHT_HOURS = 8 * HOUR

with RECORDED.open() as _handle:
    ROWS = [[r["timestamp"], r["open"], r["high"], r["low"], r["close"], r["volume"]] for r in csv.DictReader(_handle)]
NOW = int(ROWS[600][0]) + HOUR // 2
FUNDING_TIMES = [NOW - EIGHT_HOURS * n - HOUR // 2 for n in (3, 2, 1)]

# a level beyond 10 bps of the mid (60000.05) on each side, left out of the depth
DEPTH = {"lastUpdateId": 1027024, "E": NOW, "T": NOW,
         "bids": [["60000.00", "1.000"], ["59990.00", "2.000"], ["59930.00", "5.000"]],
         "asks": [["60000.10", "1.500"], ["60050.00", "0.500"], ["60100.00", "9.000"]]}


def funding_history(request: Request) -> list[dict[str, Any]]:
    start = int(request.params.get("startTime", 0))
    return [{"symbol": "BTCUSDT", "fundingTime": ts, "fundingRate": f"{0.0001 * (i + 1):.8f}", "markPrice": "60010.5"}
            for i, ts in enumerate(FUNDING_TIMES) if ts >= start]


def serve_futures(server: FakeExchange) -> None:
    install_binance(server)
    server.route("GET", "/fapi/v1/klines", klines(ROWS, lambda: NOW))
    server.route("GET", "/fapi/v1/depth", lambda _r: DEPTH)
    server.route("GET", "/fapi/v1/premiumIndex", lambda _r: {
        "symbol": "BTCUSDT", "markPrice": "60010.50000000", "indexPrice": "60001.20000000",
        "estimatedSettlePrice": "59998.10000000", "lastFundingRate": "0.00012500", "interestRate": "0.00010000",
        "nextFundingTime": NOW + HOUR // 2, "time": NOW})
    server.route("GET", "/fapi/v1/fundingRate", funding_history)
    server.route("GET", "/fapi/v1/openInterest", lambda _r: {"openInterest": "81234.567", "symbol": "BTCUSDT",
                                                             "time": NOW})
    server.route("GET", "/futures/data/globalLongShortAccountRatio", lambda _r: [
        {"symbol": "BTCUSDT", "longShortRatio": "1.8420", "longAccount": "0.6482", "shortAccount": "0.3518",
         "timestamp": str(NOW - HOUR // 2)}])


@pytest.fixture
async def db(tmp_path: Path, clock: AutoClock) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "opentrade.sqlite", clock=clock)
    yield database
    await database.close()


async def service_for(make_venue: Any, db: Database, clock: AutoClock, markets: list[str]) -> tuple[MarketDataService, EventBus]:
    clock.set(NOW)
    venue = make_venue("binance", mode="paper", markets=markets)
    instruments = await venue.load_instruments()
    bus = EventBus()
    config = MarketDataConfig(enabled=True, timeframe="1h", history=500)
    return MarketDataService({"binance": venue}, lambda: instruments, db, bus, clock, config), bus


async def test_a_perpetual_gets_candles_book_funding_open_interest_and_ratio(
    server: FakeExchange, make_venue: Any, db: Database, clock: AutoClock,
) -> None:
    serve_futures(server)
    service, bus = await service_for(make_venue, db, clock, [PERP])
    cache = MarketCache(bus)
    [stats] = await service.run_once()
    assert stats.spread_bps == pytest.approx(0.1 / 60000.05 * 10_000)
    assert (stats.bid_depth, stats.ask_depth) == (3.0, 2.0)
    assert (stats.funding_rate, stats.next_funding_ts) == (0.000125, NOW + HOUR // 2)
    assert (stats.open_interest, stats.long_short_ratio) == (81234.567, 1.842)
    assert cache.stats("binance", PERP) == stats and await db.load_market_stats("binance", PERP) == [stats]
    assert [(r.ts, r.rate) for r in await db.load_funding_rates("binance", PERP)] == [
        (FUNDING_TIMES[0], 0.0001), (FUNDING_TIMES[1], 0.0002), (FUNDING_TIMES[2], 0.0003)]
    assert [c.ts for c in await db.load_candles("binance", PERP, "1h")] == [int(r[0]) for r in ROWS[100:600]]
    # the next collection asks only for what is new
    clock.advance(HOUR)
    await service.run_once()
    assert server.calls("GET", "/fapi/v1/fundingRate")[-1].params["startTime"] == str(FUNDING_TIMES[2] + 1)
    assert server.calls("GET", "/fapi/v1/klines")[-1].params["startTime"] == ROWS[600][0]
    assert len(await db.load_market_stats("binance", PERP)) == 2 and len(await db.load_funding_rates("binance", PERP)) == 3


async def test_a_spot_market_has_its_book_and_no_derivatives_figures(
    server: FakeExchange, make_venue: Any, db: Database, clock: AutoClock,
) -> None:
    serve_futures(server)
    server.route("GET", "/api/v3/klines", klines(ROWS, lambda: NOW))
    service, _ = await service_for(make_venue, db, clock, ["BTC/USDT"])
    [stats] = await service.run_once()
    assert stats.spread_bps is not None and stats.bid_depth == pytest.approx(0.512 + 1.2 + 0.008 + 2.441)
    assert (stats.funding_rate, stats.open_interest, stats.long_short_ratio) == (None, None, None)
    assert not server.calls("GET", "/fapi/v1/premiumIndex") and not server.calls("GET", "/fapi/v1/openInterest")


async def test_a_figure_the_exchange_fails_to_give_is_left_empty_and_the_rest_is_kept(
    server: FakeExchange, make_venue: Any, db: Database, clock: AutoClock, caplog: pytest.LogCaptureFixture,
) -> None:
    serve_futures(server)
    server.route("GET", "/fapi/v1/openInterest", lambda _r: (400, {"code": -1121, "msg": "Invalid symbol."}))
    service, _ = await service_for(make_venue, db, clock, [PERP])
    [stats] = await service.run_once()
    assert stats.open_interest is None and stats.funding_rate == 0.000125 and stats.long_short_ratio == 1.842
    assert "no open interest this time" in caplog.text


async def test_the_service_runs_on_the_engines_clock(
    server: FakeExchange, make_venue: Any, db: Database, clock: AutoClock,
) -> None:
    serve_futures(server)
    service, bus = await service_for(make_venue, db, clock, [PERP])
    updates = bus.subscribe(MarketStatsUpdated)
    await service.start()
    first = await updates.get()
    second = await updates.get()
    await service.stop()
    assert second.stats.ts - first.stats.ts == 60_000
