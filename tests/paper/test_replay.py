"""Reading recorded candles and walking them as a price path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exchanges.paper.replay import ReplayError, ReplayPath, load_candles

DATA = Path(__file__).parents[1] / "data" / "binance_BTC_USDT-1m-120.csv"


def test_csv_and_ccxt_json_give_the_same_candles(tmp_path: Path) -> None:
    candles = load_candles(DATA)
    assert len(candles) == 120 and candles[0].ts == 1712016000000 and candles[0].open == 69649.81
    as_json = tmp_path / "ohlcv.json"
    as_json.write_text(json.dumps([[c.ts, c.open, c.high, c.low, c.close, c.volume] for c in candles]))
    assert load_candles(as_json) == candles


def test_path_passes_through_open_extremes_and_close() -> None:
    candles = load_candles(DATA)[:3]
    path = ReplayPath(candles)
    assert path.candle_seconds == 60
    prices = [path.advance(1.0) for _ in range(180)]
    for i, candle in enumerate(candles):
        leg = prices[i * 60:(i + 1) * 60]
        assert max(leg) == pytest.approx(candle.high) and min(leg) == pytest.approx(candle.low)
        assert leg[-2] == pytest.approx(candle.close, rel=2e-4)
    assert path.finished and path.advance(1.0) == candles[-1].close
    assert path.volume_per_second() == candles[-1].volume / 60


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,o,h,l,c,v\n1,1,1,1,1,1\n", ":1: expected the header"),
        ("timestamp,open,high,low,close,volume\n1,2,3,1,2,1\n2,2,3,x,2,1\n", ":3: not numbers"),
        ("timestamp,open,high,low,close,volume\n1,2,3,1,2,1\n2,2,1.5,1,2,1\n", ":3: inconsistent candle"),
        ("timestamp,open,high,low,close,volume\n2,2,3,1,2,1\n1,2,3,1,2,1\n", "timestamps must increase"),
        ("timestamp,open,high,low,close,volume\n1,2,3,1,2,1\n", "at least two candles"),
        ("[[1, 2, 3, 1, 2]]", "candle 0: expected 6 values"),
        ("[[1, 2, 3", "not valid JSON"),
    ],
)
def test_bad_files_are_explained(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ReplayError, match=message):
        load_candles(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="not found"):
        load_candles(tmp_path / "nope.csv")
