"""Candle history longer than one answer of the exchange comes in pages: the agents' warm-up
asks for hundreds or thousands of candles, Binance answers at most 1,000 per request."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from agents.history import CandleHistory
from core.clock import SimClock
from tests.ccxt.fakes import install_binance
from tests.ccxt.server import FakeExchange, Request

HOUR = 3_600_000
RECORDED = Path(__file__).parents[1] / "data" / "binance_BTC_USDT-1h-5000.csv"  # real Binance candles, MIT


def klines(rows: list[list[str]], now_ms: Any) -> Any:
    """/api/v3/klines as Binance answers it: from startTime (else the latest) up to limit rows
    (default 500, more than 1,000 refused), only candles that have opened by now."""
    def answer(req: Request) -> Any:
        limit = int(req.params.get("limit", 500))
        if limit > 1000:
            return 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}
        opened = [r for r in rows if int(r[0]) <= now_ms()]
        start = req.params.get("startTime")
        chosen = [r for r in opened if int(r[0]) >= int(start)][:limit] if start else opened[-limit:]
        return [[int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[0]) + HOUR - 1, "0", 100, "0", "0", "0"] for r in chosen]
    return answer


async def test_a_long_history_comes_in_pages_of_what_the_exchange_allows(
    server: FakeExchange, make_venue: Any, clock: SimClock
) -> None:
    with RECORDED.open() as handle:
        rows = [[r["timestamp"], r["open"], r["high"], r["low"], r["close"], r["volume"]] for r in csv.DictReader(handle)]
    install_binance(server)
    server.route("GET", "/api/v3/klines", klines(rows, clock.now_ms))
    clock.set(int(rows[-1][0]) + HOUR + 60_000)  # an hour after the last recorded candle opened
    venue = make_venue("binance", mode="paper", timeout_ms=10_000)  # pages are counted: a loaded machine's retry would add one
    await venue.load_instruments()
    candles = await venue.fetch_ohlcv("BTC/USDT", "1h", limit=2500)
    assert [c.ts for c in candles] == [int(r[0]) for r in rows[-2500:]]
    assert candles[-1].close == float(rows[-1][4])
    pages = server.calls("GET", "/api/v3/klines")
    assert len(pages) == 3 and all(int(p.params["limit"]) <= 1000 for p in pages)
    since = int(rows[1000][0])
    assert [c.ts for c in await venue.fetch_ohlcv("BTC/USDT", "1h", since=since, limit=1500)] == [
        int(r[0]) for r in rows[1000:2500]]
    assert len(await venue.fetch_ohlcv("BTC/USDT", "1h", limit=20)) == 20


async def test_the_agents_warm_up_from_an_exchange_in_pages(server: FakeExchange, make_venue: Any, clock: SimClock) -> None:
    """The agents' first analysis on a ccxt venue reads its whole history (1,500 hourly candles
    here) through fetch_ohlcv, a page at a time."""
    with RECORDED.open() as handle:
        rows = [[r["timestamp"], r["open"], r["high"], r["low"], r["close"], r["volume"]] for r in csv.DictReader(handle)]
    install_binance(server)
    server.route("GET", "/api/v3/klines", klines(rows, clock.now_ms))
    clock.set(int(rows[-1][0]) + 30 * 60_000)
    venue = make_venue("binance", mode="paper")
    await venue.load_instruments()
    candles = await CandleHistory({"binance": venue}, 1500).candles("binance", "BTC/USDT", "1h")
    assert len(candles) == 1500 and candles.last_close == float(rows[-1][4])
    assert len(server.calls("GET", "/api/v3/klines")) == 2
