"""`opentrade backtest` on a perpetual pays the funding rates stored in the database (by the
data service) over the candles' time: the report's funding line and the JSON's figure."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from cli.main import main
from core.config import AppConfig
from core.marketdata.history import candles_csv
from core.models import Candle, FundingRate
from core.storage.target import StorageTarget

SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"
H = 3_600_000
T0 = 1_704_067_200_000


def write(path: Path, closes: list[float]) -> Path:
    path.write_text(candles_csv([Candle(ts=T0 + i * H, open=c, high=c, low=c, close=c, volume=1.0)
                                 for i, c in enumerate(closes)]))
    return path


async def store(home: Path, rates: list[FundingRate]) -> None:
    async with await StorageTarget.of(AppConfig(), home).open(create=True) as db:
        await db.save_funding_rates("paper", PERP, rates)


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    spot, perp = write(tmp_path / "spot.csv", [100.0] * 12), write(tmp_path / "perp.csv", [100.0] + [101.0] * 11)
    assert main(["backtest", "--strategy", "basis_arbitrage", "--symbol", SPOT, "--symbol", PERP,
                 "--data", str(spot), "--data", str(perp), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_stored_funding_is_paid_in_the_backtest(tmp_path: Path, isolated_home: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, capsys)["funding"] == 0.0  # no database: no funding
    # one payment inside the candles' time, one after it (not paid)
    asyncio.run(store(isolated_home, [FundingRate(ts=T0 + 8 * H, rate=0.0002), FundingRate(ts=T0 + 16 * H, rate=0.5)]))
    result = run(tmp_path, capsys)
    short = result["final_position"] / 2
    assert result["engine"] == "event" and result["funding"] == pytest.approx(0.0002 * 101.0 * short)
