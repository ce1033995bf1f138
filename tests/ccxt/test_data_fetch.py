"""`opentrade data fetch` against a fake Binance on 127.0.0.1: the history in pages into the
database (SQLite and PostgreSQL), a stopped download going on from its last stored page, the
CSV export that `opentrade backtest --data` reads, and one-line messages for bad input and for
an exchange that cannot be reached."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.main import main
from core.backtest.data import load_bars
from tests.backends import Store
from tests.ccxt.conftest import AutoClock
from tests.ccxt.fakes import install_binance
from tests.ccxt.server import FakeExchange, Request
from tests.ccxt.test_ohlcv_pages import HOUR, RECORDED, klines

with RECORDED.open() as _handle:
    ROWS = [[r["timestamp"], r["open"], r["high"], r["low"], r["close"], r["volume"]] for r in csv.DictReader(_handle)]
FIRST = int(ROWS[0][0])


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M")


def write_config(home: Path, server_url: str, storage: dict[str, Any] | None = None) -> Path:
    venue = {"exchange": "binance", "mode": "paper", "markets": ["BTC/USDT"], "api_urls": {"*": server_url},
             "timeout_ms": 300, "options": {"rateLimit": 1}}
    path = home / "config.yaml"
    path.write_text(yaml.safe_dump({"venues": {"bn": venue}, **({"storage": storage} if storage else {})}))
    return path


@pytest.fixture
def fetch(tmp_path: Path, clock: AutoClock, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs `opentrade data fetch` in a thread of its own (the fake server answers on this
    loop), on the test's simulated clock."""
    monkeypatch.setattr("cli.commands.data.make_clock", lambda: clock)
    home = tmp_path / "home"

    async def run(config: Path, *extra: str, since: str = iso(FIRST)) -> int:
        argv = ["--home", str(home), "--config", str(config), "data", "fetch", "--venue", "bn",
                "--symbol", "BTC/USDT", "--timeframe", "1h", "--since", since, *extra]
        return await asyncio.to_thread(main, argv)

    return run


def serve(server: FakeExchange, clock: AutoClock, closed: int) -> None:
    """Binance with the recorded candles, ``closed`` of them closed by now."""
    install_binance(server)
    server.route("GET", "/api/v3/klines", klines(ROWS, clock.now_ms))
    clock.set(int(ROWS[closed][0]) + HOUR // 2)


async def test_history_comes_into_the_database_and_out_as_a_csv_the_backtest_reads(
    server: FakeExchange, clock: AutoClock, fetch: Any, store: Store, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in store.env().items():
        monkeypatch.setenv(name, value)
    serve(server, clock, closed=2500)
    config = write_config(tmp_path / "home", server.url, store.config().model_dump(mode="json", exclude_none=True))
    exported = tmp_path / "btc.csv"
    assert await fetch(config, "--export", str(exported)) == 0
    out = capsys.readouterr().out
    assert "bn BTC/USDT 1h: 2500 candles stored" in out and "exported 2500 candles" in out
    assert [int(p.params["startTime"]) for p in server.calls("GET", "/api/v3/klines")] == [
        int(ROWS[i][0]) for i in (0, 1000, 2000)]
    stored = store.rows("SELECT ts, close FROM candles WHERE venue = 'bn' AND symbol = 'BTC/USDT' ORDER BY ts")
    assert [(ts, close) for ts, close in stored] == [(int(r[0]), float(r[4])) for r in ROWS[:2500]]
    bars = load_bars(exported, symbol="BTC/USDT")
    assert bars.timeframe == "1h" and len(bars.close) == 2500 and bars.close[-1] == float(ROWS[2499][4])
    assert await asyncio.to_thread(main, ["--config", str(config), "backtest", "--strategy", "sma_cross",
                                          "--symbol", "BTC/USDT", "--data", str(exported), "--json"]) == 0


async def test_a_stopped_download_goes_on_from_its_last_stored_page(
    server: FakeExchange, clock: AutoClock, fetch: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    serve(server, clock, closed=3200)
    answer = klines(ROWS, clock.now_ms)
    pages: list[int] = []

    def third_page_fails(request: Request) -> Any:
        pages.append(int(request.params["startTime"]))
        return (503, {"msg": "Service Unavailable"}) if len(pages) >= 3 and failing else answer(request)

    failing = True
    server.route("GET", "/api/v3/klines", third_page_fails)
    config = write_config(tmp_path / "home", server.url)
    assert await fetch(config) == 1
    err = capsys.readouterr().err
    assert err.startswith("opentrade: venue error: ") and "Traceback" not in err and len(err.splitlines()) == 1
    failing = False
    pages.clear()
    assert await fetch(config) == 0
    out = capsys.readouterr().out
    assert pages == [int(ROWS[2000][0]), int(ROWS[3000][0])]
    assert "1200 candles stored, going on from" in out and iso(int(ROWS[2000][0]))[:10] in out
    # a later run asks only for what closed since
    clock.set(int(ROWS[3210][0]) + HOUR // 2)
    pages.clear()
    assert await fetch(config) == 0
    assert pages == [int(ROWS[3200][0])] and "10 candles stored" in capsys.readouterr().out
    rows = sqlite_rows(tmp_path / "home" / "opentrade.sqlite")
    assert rows == [int(r[0]) for r in ROWS[:3210]]


async def test_history_asked_from_before_the_exchange_had_any_is_not_asked_for_again(
    server: FakeExchange, clock: AutoClock, fetch: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    serve(server, clock, closed=300)
    config = write_config(tmp_path / "home", server.url)
    ten_days_earlier = iso(FIRST - 240 * HOUR)
    assert await fetch(config, since=ten_days_earlier) == 0
    assert "300 candles stored" in capsys.readouterr().out
    assert await fetch(config, since=ten_days_earlier) == 0
    assert "0 candles stored, going on from" in capsys.readouterr().out
    assert len(server.calls("GET", "/api/v3/klines")) == 1


def sqlite_rows(path: Path) -> list[int]:
    import sqlite3

    raw = sqlite3.connect(path)
    try:
        return [ts for (ts,) in raw.execute("SELECT ts FROM candles ORDER BY ts")]
    finally:
        raw.close()


@pytest.mark.parametrize(("extra", "since", "expected"), [
    (["--venue", "nope"], None, "--venue: no venue 'nope' in the configuration (configured: bn)"),
    (["--symbol", "BTCUSDT"], None, "--symbol: 'BTCUSDT' is not a unified symbol like BTC/USDT or BTC/USDT:USDT"),
    (["--timeframe", "hourly"], None, "timeframe 'hourly' is not like 1m, 5m, 1h, 4h, 1d or 1w"),
    ([], "last tuesday", "--since: 'last tuesday' is not a date or time such as 2024-01-01 or 2024-01-01T12:00"),
    ([], "2031-01-01", "--since: 2031-01-01 is not in the past"),
])
async def test_bad_input_is_one_line_and_exit_code_2(
    fetch: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], since: str | None,
    expected: str,
) -> None:
    config = write_config(tmp_path / "home", "http://127.0.0.1:9")
    assert await fetch(config, *extra, **({"since": since} if since else {})) == 2
    assert capsys.readouterr().err == f"data: {expected}\n"


async def test_a_timeframe_the_exchange_does_not_offer_is_named_with_those_it_does(
    server: FakeExchange, clock: AutoClock, fetch: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    serve(server, clock, closed=10)
    assert await fetch(write_config(tmp_path / "home", server.url), "--timeframe", "7m") == 1
    err = capsys.readouterr().err
    assert "timeframe '7m' is not offered by binance (offered: 1s, 1m, 3m" in err and len(err.splitlines()) == 1


async def test_an_exchange_that_cannot_be_reached_is_one_line(
    fetch: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert await fetch(write_config(tmp_path / "home", "http://127.0.0.1:9")) == 1
    err = capsys.readouterr().err
    assert err.startswith("opentrade: venue error: bn: ") and len(err.splitlines()) == 1, err
