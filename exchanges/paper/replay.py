"""Recorded candles as a price path for the paper venue.

A candle file is either CSV with the header ``timestamp,open,high,low,close,volume`` or ccxt's
OHLCV JSON ``[[ts, o, h, l, c, v], ...]``. Each candle is replayed as a path open -> nearer
extreme -> farther extreme -> close over the candle's duration in simulated time, so the mid
passes through the recorded open, high, low and close (the venue's own candles, built from
trades at the bid and ask around that mid, follow them closely).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from core.models import Candle

CSV_COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]


class ReplayError(ValueError):
    """A replay file that cannot be used, with the file and the line at fault."""


def load_candles(path: Path) -> list[Candle]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReplayError(f"{path}: replay file not found") from None
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read the replay file: {exc.strerror}") from None
    rows = _json_rows(path, text) if text.lstrip().startswith("[") else _csv_rows(path, text)
    candles = [_candle(path, where, row) for where, row in rows]
    if len(candles) < 2:
        raise ReplayError(f"{path}: a replay needs at least two candles, found {len(candles)}")
    for previous, current in zip(candles, candles[1:], strict=False):
        if current.ts <= previous.ts:
            raise ReplayError(f"{path}: timestamps must increase (candle at {current.ts} follows {previous.ts})")
    return candles


def _csv_rows(path: Path, text: str) -> list[tuple[str, list[str]]]:
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != CSV_COLUMNS:
        raise ReplayError(f"{path}:1: expected the header {','.join(CSV_COLUMNS)}, got {','.join(header or [])}")
    return [(f"{path}:{number}", row) for number, row in enumerate(reader, start=2) if row]


def _json_rows(path: Path, text: str) -> list[tuple[str, list[object]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
        raise ReplayError(f"{path}: expected ccxt OHLCV JSON, a list of [ts, open, high, low, close, volume]")
    return [(f"{path}: candle {index}", row) for index, row in enumerate(data)]


def _candle(path: Path, where: str, row: list[Any]) -> Candle:
    if len(row) != 6:
        raise ReplayError(f"{where}: expected 6 values (timestamp, open, high, low, close, volume), got {len(row)}")
    try:
        ts = int(row[0])
        open_, high, low, close, volume = (float(x) for x in row[1:])
    except (TypeError, ValueError):
        raise ReplayError(f"{where}: not numbers: {row}") from None
    if min(open_, high, low, close) <= 0 or volume < 0:
        raise ReplayError(f"{where}: prices must be positive and volume not negative")
    if not low <= min(open_, close) <= max(open_, close) <= high:
        raise ReplayError(f"{where}: inconsistent candle (low {low}, high {high}, open {open_}, close {close})")
    return Candle(ts=ts, open=open_, high=high, low=low, close=close, volume=volume)


class ReplayPath:
    """The mid price as simulated time passes through the candles in order.

    Each candle lasts the candles' usual spacing; inside it the price moves linearly along
    open -> nearer extreme -> farther extreme -> close, reaching the extremes at one and two
    thirds of the candle. After the last candle the price stays at its close.
    """

    def __init__(self, candles: list[Candle]) -> None:
        self.candles = candles
        spacing_ms = sorted(b.ts - a.ts for a, b in zip(candles, candles[1:], strict=False))[len(candles) // 2 - 1]
        self.candle_seconds = spacing_ms / 1000
        self.elapsed = 0.0  # simulated seconds since the first candle opened

    @property
    def finished(self) -> bool:
        return self.elapsed >= len(self.candles) * self.candle_seconds

    def _index(self) -> int:
        return min(int(self.elapsed // self.candle_seconds), len(self.candles) - 1)

    def volume_per_second(self) -> float:
        return self.candles[self._index()].volume / self.candle_seconds

    def advance(self, dt: float) -> float:
        self.elapsed += dt
        if self.finished:
            return self.candles[-1].close
        candle = self.candles[self._index()]
        near, far = (candle.low, candle.high) if candle.close >= candle.open else (candle.high, candle.low)
        waypoints = (candle.open, near, far, candle.close)
        x = 3 * (self.elapsed % self.candle_seconds) / self.candle_seconds
        leg = min(int(x), 2)
        return waypoints[leg] + (waypoints[leg + 1] - waypoints[leg]) * (x - leg)
