"""The parsed copy of a candles CSV: used while the file is as it was, never once it changed,
and never in the way of the checks or of the backtest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.backtest import data
from core.backtest.data import DataError, load_bars

HEADER = "timestamp,open,high,low,close,volume\n"
H = 3_600_000


def _write(path: Path, closes: list[float], *, hours: list[int] | None = None) -> Path:
    hours = hours if hours is not None else list(range(len(closes)))
    path.write_text(HEADER + "".join(f"{h * H},{c},{c + 1},{c - 1},{c},5\n" for h, c in zip(hours, closes, strict=True)))
    return path


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: Path) -> None:
        raise AssertionError(f"{path} was parsed again")

    monkeypatch.setattr(data, "_read_csv", refuse)


def test_the_second_load_reads_the_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, cache = _write(tmp_path / "c.csv", [100.5, 101.25, 99.0]), tmp_path / "cache"
    first = load_bars(path, cache_dir=cache)
    _no_parsing(monkeypatch)
    again = load_bars(path, cache_dir=cache)
    assert again.ts.tolist() == first.ts.tolist() == [0, H, 2 * H]
    assert [again.open.tolist(), again.close.tolist(), again.volume.tolist()] == [
        [100.5, 101.25, 99.0], [100.5, 101.25, 99.0], [5.0, 5.0, 5.0]]
    assert again.timeframe == "1h" and again.symbol == "c" and len(list(cache.iterdir())) == 1


def test_an_edited_file_is_parsed_again_and_its_old_copy_removed(tmp_path: Path) -> None:
    path, cache = _write(tmp_path / "c.csv", [100.0, 101.0]), tmp_path / "cache"
    load_bars(path, cache_dir=cache)
    before = path.stat().st_mtime_ns
    _write(path, [100.0, 102.0])  # the same size
    os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
    assert load_bars(path, cache_dir=cache).close.tolist() == [100.0, 102.0]
    assert len(list(cache.iterdir())) == 1


def test_a_file_copied_over_with_the_same_size_and_time_is_parsed_again(tmp_path: Path) -> None:
    """``cp -p`` keeps the time: the inode tells the files apart."""
    path, cache = _write(tmp_path / "c.csv", [100.0, 101.0]), tmp_path / "cache"
    load_bars(path, cache_dir=cache)
    stat = path.stat()
    other = _write(tmp_path / "other.csv", [100.0, 103.0])
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    other.replace(path)
    assert load_bars(path, cache_dir=cache).close.tolist() == [100.0, 103.0]


def test_the_checks_still_run_on_the_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, cache = _write(tmp_path / "c.csv", [100.0, 101.0, 102.0], hours=[0, 1, 4]), tmp_path / "cache"
    assert len(load_bars(path, timeframe="1h", allow_gaps=True, cache_dir=cache)) == 3
    _no_parsing(monkeypatch)
    with pytest.raises(DataError, match=r"c\.csv: line 4: gap of 2 missing 1h candle\(s\)"):
        load_bars(path, timeframe="1h", cache_dir=cache)


def test_a_bad_file_is_never_kept(tmp_path: Path) -> None:
    path, cache = tmp_path / "c.csv", tmp_path / "cache"
    path.write_text(HEADER + "0,1,2,0.5,1,5\n3600000,1,2,0.5,oops,5\n")
    with pytest.raises(DataError, match="line 3: close is not a number"):
        load_bars(path, cache_dir=cache)
    assert not cache.exists()


def test_a_cache_that_cannot_be_written_costs_only_the_parse(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.csv", [100.0, 101.0])
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    assert load_bars(path, cache_dir=blocked).close.tolist() == [100.0, 101.0]
    assert load_bars(path, cache_dir=blocked).close.tolist() == [100.0, 101.0]


def test_a_damaged_copy_is_parsed_again(tmp_path: Path) -> None:
    path, cache = _write(tmp_path / "c.csv", [100.0, 101.0]), tmp_path / "cache"
    load_bars(path, cache_dir=cache)
    (entry,) = cache.iterdir()
    entry.write_bytes(entry.read_bytes()[:100])
    assert load_bars(path, cache_dir=cache).close.tolist() == [100.0, 101.0]
