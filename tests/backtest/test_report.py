"""Exports of a backtest, and backtesting candles stored in the database."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest

from cli.main import main
from core.backtest.data import load_bars
from core.backtest.fast import run_fast
from core.backtest.report import export
from core.backtest.result import BacktestSettings
from core.storage.database import Database
from core.strategies.sma_cross import SmaCross
from tests.conftest import DATA


@pytest.fixture(scope="module")
def result():
    bars = load_bars(DATA / "binance_BTC_USDT-1h-5000.csv", symbol="BTC/USDT").slice(0, 1000)
    return run_fast(SmaCross, bars, {"fast": 10, "slow": 30}, BacktestSettings())


def test_csv_export_writes_trades_and_the_equity_curve(result, tmp_path: Path) -> None:
    trades, equity = export(result, tmp_path / "run.csv")
    assert equity.name == "run-equity.csv"
    rows = list(csv.DictReader(trades.open()))
    assert len(rows) == len(result.trades) and rows[0]["side"] in ("long", "short")
    assert float(rows[0]["pnl"]) == pytest.approx(result.trades[0].pnl)
    curve = list(csv.reader(equity.open()))
    assert curve[0] == ["timestamp", "equity"] and len(curve) == 1001
    assert float(curve[-1][1]) == pytest.approx(result.metrics.final_equity)


def test_json_export_and_unknown_formats(result, tmp_path: Path) -> None:
    (path,) = export(result, tmp_path / "run.json")
    data = json.loads(path.read_text())
    assert data["final_equity"] == result.metrics.final_equity and len(data["trade_list"]) == data["trades"]
    with pytest.raises(ValueError, match="use a .json or .csv file name"):
        export(result, tmp_path / "run.xlsx")


def test_backtest_candles_from_the_database(capsys: pytest.CaptureFixture[str], isolated_home: Path) -> None:
    bars = load_bars(DATA / "binance_BTC_USDT-1h-5000.csv", symbol="BTC/USDT").slice(0, 600)

    async def store() -> None:
        async with await Database.open(isolated_home / "opentrade.sqlite") as db:
            await db.save_candles("paper", "BTC/USDT", "1h", [bars.candle(i) for i in range(len(bars))])

    asyncio.run(store())
    code = main(["backtest", "--strategy", "sma_cross", "--symbol", "BTC/USDT", "--timeframe", "1h",
                 "--param", "fast=5", "--param", "slow=20", "--json", "--save"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    expected = run_fast(SmaCross, bars, {"fast": 5, "slow": 20}, BacktestSettings()).summary()
    holding = float(bars.close[-1]) / float(bars.open[0]) * 0.999**2 - 1
    assert summary["bars"] == 600 and summary == expected | {"elapsed_s": summary["elapsed_s"], "buy_and_hold_return": holding}

    async def saved() -> str | None:
        async with await Database.open(isolated_home / "opentrade.sqlite") as db:
            return await db.get_state("backtest.last.sma_cross")

    assert json.loads(asyncio.run(saved()) or "{}")["final_equity"] == summary["final_equity"]
    code = main(["backtest", "--strategy", "sma_cross", "--symbol", "ETH/USDT", "--timeframe", "1h"])
    assert code == 2 and "the database has no 1h candles of ETH/USDT on paper; pass --data" in capsys.readouterr().err
