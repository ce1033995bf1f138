"""Loading candles: good files load, bad ones fail naming the problem and the line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from core.backtest import data
from core.backtest.data import DataError, bars_from_candles, load_bars, timeframe_ms
from core.models import Candle

HEADER = "timestamp,open,high,low,close,volume\n"
H = 3_600_000


def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "candles.csv"
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return path


def _row(ts: int, close: float = 100.0) -> str:
    return f"{ts},{close},{close + 1},{close - 1},{close},5"


def test_csv_loads_and_infers_the_timeframe(tmp_path: Path) -> None:
    bars = load_bars(_csv(tmp_path, [_row(k * H) for k in range(5)]), symbol="BTC/USDT")
    assert len(bars) == 5 and bars.timeframe == "1h" and bars.step_ms == H
    assert bars.close.tolist() == [100.0] * 5 and bars.symbol == "BTC/USDT"


def test_ccxt_json_loads(tmp_path: Path) -> None:
    path = tmp_path / "ohlcv.json"
    path.write_text(json.dumps([[k * 60_000, 1, 2, 0.5, 1.5, 10] for k in range(3)]))
    bars = load_bars(path)
    assert bars.timeframe == "1m" and bars.high.tolist() == [2.0, 2.0, 2.0]


def test_iso_dates_are_accepted(tmp_path: Path) -> None:
    path = _csv(tmp_path, ["2024-01-01T00:00:00Z,1,2,0.5,1,1", "2024-01-01T01:00:00Z,1,2,0.5,1,1"])
    assert load_bars(path).ts.tolist() == [1_704_067_200_000, 1_704_070_800_000]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([_row(0), _row(H), "7200000,100,101,99,,5"], "line 4: close is not a number"),
        ([_row(0), _row(H), "7200000,100,101,99,nan,5"], "line 4: close is not a number"),
        ([_row(0), _row(2 * H), _row(H)], "line 4: timestamps are not sorted"),
        ([_row(0), _row(H), _row(H)], "line 4: duplicate timestamp 1970-01-01 01:00:00 UTC (3600000) (also on line 3)"),
        ([_row(0), _row(H), _row(4 * H), _row(5 * H)], "line 4: gap of 2 missing 1h candle(s) between"),
        ([_row(0), "3600000,100,99,98,100,5"], "line 3: impossible candle"),
    ],
)
def test_bad_files_name_the_problem_and_the_line(tmp_path: Path, rows: list[str], message: str) -> None:
    with pytest.raises(DataError) as info:
        load_bars(_csv(tmp_path, rows), timeframe="1h")
    assert message in str(info.value)
    assert "candles.csv" in str(info.value)


def test_a_well_formed_file_is_read_without_the_checking_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: Path) -> None:
        raise AssertionError(f"{path} went through the slow checking reader")

    monkeypatch.setattr(data, "_read_checked_csv", refuse)
    bars = load_bars(_csv(tmp_path, [_row(k * H, 100.5 + k) for k in range(3)]))
    assert bars.close.tolist() == [100.5, 101.5, 102.5] and bars.ts.tolist() == [0, H, 2 * H]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("NA", "line 3: close is not a number (got 'NA')"),
        ("null", "line 3: close is not a number (got 'null')"),
        ("0x10", "line 3: close is not a number (got '0x10')"),
        ("1_000", "line 3: close is not a number (got '1_000')"),
        ("True", "line 3: close is not a number (got 'True')"),
        ("inf", "line 3: close is NaN or infinite at 1970-01-01 01:00:00 UTC (3600000)"),
        ("100,5", "not a readable CSV file: Error tokenizing data. C error: Expected 6 fields in line 3, saw 7"),
    ],
)
def test_cells_the_numeric_reader_refuses_or_reads_as_missing_are_worded_by_the_checks(
    tmp_path: Path, cell: str, message: str
) -> None:
    """The fast reader must not take what the checking reader refuses: a row with one field too
    many, or a word pandas reads as missing, ends as the checking reader's message."""
    path = _csv(tmp_path, [_row(0), f"{H},100,101,99,{cell},5"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fast reader's own warnings stay inside it
        with pytest.raises(DataError) as info:
            load_bars(path, timeframe="1h")
    assert f"{path}: {message}" in str(info.value)


def test_spaces_around_numbers_are_read_the_same_by_both_readers(tmp_path: Path) -> None:
    bars = load_bars(_csv(tmp_path, [_row(0), f" {H} , 100.5 ,101,99, 100 ,5"]))
    assert bars.ts.tolist() == [0, H] and bars.open.tolist() == [100.0, 100.5]


def test_gaps_can_be_allowed_explicitly(tmp_path: Path) -> None:
    bars = load_bars(_csv(tmp_path, [_row(0), _row(H), _row(4 * H)]), timeframe="1h", allow_gaps=True)
    assert len(bars) == 3


def test_missing_columns_and_files(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("timestamp,open,high,low\n1,2,3,1\n")
    with pytest.raises(DataError, match="missing column"):
        load_bars(path)
    with pytest.raises(DataError, match="no such file"):
        load_bars(tmp_path / "nope.csv")


def test_json_rows_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([[0, 1, 2, 0.5, 1, 1], [60_000, 1, None, 0.5, 1, 1]]))
    with pytest.raises(DataError, match="row 2: high is not a number"):
        load_bars(path)


def test_candles_from_the_database_are_checked_too() -> None:
    candles = [Candle(ts=t, open=1, high=2, low=0.5, close=1, volume=1) for t in (0, 60_000, 60_000)]
    with pytest.raises(DataError, match="duplicate timestamp"):
        bars_from_candles("BTC/USDT", "1m", candles)


def test_timeframes() -> None:
    assert timeframe_ms("5m") == 300_000 and timeframe_ms("1d") == 86_400_000
    with pytest.raises(DataError, match="not like 1m"):
        timeframe_ms("fortnight")
