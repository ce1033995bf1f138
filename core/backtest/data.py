"""Candles for backtests: loading CSV or ccxt OHLCV JSON files into numpy arrays, checked.

A backtest on bad data gives confident wrong answers, so every problem (a missing or
non-numeric value, a timestamp out of order or repeated, a gap, an impossible candle) is an
error naming the line and the timestamp; nothing is silently dropped or filled.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.models import Candle

COLUMNS = ("open", "high", "low", "close", "volume")
TS_NAMES = ("timestamp", "ts", "time", "date", "datetime")
_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
# The last millisecond of the year 9999: later times have no date, and cannot be int64 ms.
MAX_TS_MS = 253_402_300_799_999

if TYPE_CHECKING:  # pandas is imported where it is used: the live app never needs it
    import pandas as pd

# Shipped with the package so a first backtest needs no download: 3,000 real Binance BTC/USDT
# 1h candles, 2022-04-01 to 2022-08-03 (the LUNA and 3AC crashes), without a gap; MIT licence
# beside it (samples/README.md says where they come from).
SAMPLE_CANDLES = Path(__file__).parent / "samples" / "binance_BTC_USDT-1h.csv"


class DataError(ValueError):
    """Candles that cannot be backtested, with the line or timestamp of the first problem."""


def timeframe_ms(timeframe: str) -> int:
    """ccxt-style timeframes (1m, 5m, 1h, 4h, 1d, 1w) to milliseconds."""
    match = re.fullmatch(r"(\d+)([smhdw])", timeframe.strip())
    if not match or int(match.group(1)) == 0:
        raise DataError(f"timeframe '{timeframe}' is not like 1m, 5m, 1h, 4h, 1d or 1w")
    return int(match.group(1)) * _UNITS_MS[match.group(2)]


def format_ts(ts: int) -> str:
    """A timestamp as people read it, with the raw milliseconds so it can be searched for."""
    when = datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{when} UTC ({ts})"


@dataclass(slots=True)
class ReplayCandle:
    """A closed candle of a backtest's replay, as strategies read it (``CandleLike``): the values
    of ``core.models.Candle`` without the model, whose construction was a fifth of a quiet
    candle's cost. The arrays it comes from were validated on loading."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True)
class Bars:
    """Candles of one symbol as parallel arrays: int64 ms timestamps (bar open) and float64 OHLCV.

    ``lines`` are the 1-based source-file lines, for messages about a row found later.
    """

    symbol: str
    timeframe: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def step_ms(self) -> int:
        return timeframe_ms(self.timeframe)

    def slice(self, start: int, stop: int) -> Bars:
        return Bars(
            self.symbol, self.timeframe, self.ts[start:stop], self.open[start:stop], self.high[start:stop],
            self.low[start:stop], self.close[start:stop], self.volume[start:stop],
        )

    def candle(self, i: int) -> Candle:
        return self.candles(i, i + 1)[0]

    def candles(self, start: int, stop: int) -> list[Candle]:
        """The candles [start, stop), the arrays converted a slice at a time. They were
        validated on loading: pydantic's checks would be most of a candle's cost in the
        event-driven backtest."""
        columns = (self.ts[start:stop].tolist(), self.open[start:stop].tolist(), self.high[start:stop].tolist(),
                   self.low[start:stop].tolist(), self.close[start:stop].tolist(), self.volume[start:stop].tolist())
        return Candle.trusted_many(zip(*columns, strict=True))

    def replay_candles(self, start: int, stop: int) -> list[ReplayCandle]:
        """The candles [start, stop) as the event backtester hands them to strategies."""
        return list(map(ReplayCandle, self.ts[start:stop].tolist(), self.open[start:stop].tolist(),
                        self.high[start:stop].tolist(), self.low[start:stop].tolist(),
                        self.close[start:stop].tolist(), self.volume[start:stop].tolist()))

    def to_frame(self) -> pd.DataFrame:
        """The OHLCV frame other tools (backtesting.py) expect: capitalised columns, UTC index."""
        import pandas as pd

        index = pd.to_datetime(self.ts, unit="ms", utc=True)
        return pd.DataFrame(
            {"Open": self.open, "High": self.high, "Low": self.low, "Close": self.close, "Volume": self.volume},
            index=index,
        )


def bars_from_arrays(
    symbol: str,
    timeframe: str,
    ts: Sequence[int] | np.ndarray,
    ohlcv: Sequence[Sequence[float]] | np.ndarray,
    *,
    allow_gaps: bool = False,
    lines: np.ndarray | None = None,
) -> Bars:
    """Check and wrap arrays. ``ohlcv`` has five columns; ``lines`` maps rows to file lines."""
    ts_arr = np.asarray(ts, dtype=np.int64)
    values = np.asarray(ohlcv, dtype=np.float64).reshape(len(ts_arr), 5) if len(ts_arr) else np.zeros((0, 5))
    line_of = lines if lines is not None else np.arange(1, len(ts_arr) + 1)
    _validate(ts_arr, values, timeframe, allow_gaps, line_of)
    return Bars(symbol, timeframe, ts_arr, *(np.ascontiguousarray(values[:, k]) for k in range(5)))


def bars_from_candles(symbol: str, timeframe: str, candles: Sequence[Candle], *, allow_gaps: bool = False) -> Bars:
    """Candles from the database or a venue (``fetch_ohlcv``) as Bars."""
    ts = [c.ts for c in candles]
    values = [(c.open, c.high, c.low, c.close, c.volume) for c in candles]
    return bars_from_arrays(symbol, timeframe, ts, values, allow_gaps=allow_gaps)


def load_bars(
    path: str | Path, *, symbol: str = "", timeframe: str | None = None, allow_gaps: bool = False,
    cache_dir: Path | None = None,
) -> Bars:
    """Load a CSV (header with timestamp, open, high, low, close, volume) or ccxt OHLCV JSON file.

    Without ``timeframe`` it is inferred as the most common spacing between candles. With
    ``cache_dir``, a CSV's parsed copy is kept there for the next load (``candle_cache``).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory; give a candles file (CSV or ccxt OHLCV JSON)")
    if path.suffix.lower() == ".json":
        ts, values, lines = _read_json(path)
    elif cache_dir is not None:
        from core.backtest.candle_cache import cached_parse

        ts, values, lines = cached_parse(path, cache_dir, _read_csv)
    else:
        ts, values, lines = _read_csv(path)
    if len(ts) == 0:
        raise DataError(f"{path}: no candles in the file")
    chosen = timeframe or _infer_timeframe(ts)
    try:
        return bars_from_arrays(symbol or path.stem, chosen, ts, values, allow_gaps=allow_gaps, lines=lines)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A well-formed numeric file goes through pandas' C reader with the column types given
    (0.2 s for a million candles); anything that reader refuses or reads as missing, and any
    timestamp out of range, sends the file to the checking reader, which reads every cell as
    text to name the first bad line and show the value as written (ISO dates are read there)."""
    numeric = _read_numeric_csv(path)
    return numeric if numeric is not None else _read_checked_csv(path)


def _read_numeric_csv(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The file's candles if every timestamp is an integer in range and every value a number,
    else None."""
    import pandas as pd

    unreadable = (ValueError, OverflowError, OSError, UnicodeDecodeError, pd.errors.ParserError,
                  pd.errors.EmptyDataError)
    try:
        header = pd.read_csv(path, nrows=0).columns
        columns = {str(name).strip().lower(): name for name in header}
        ts_col = next(columns[n] for n in TS_NAMES if n in columns)
        names = [columns[n] for n in COLUMNS]
        # every column is read, as the checking reader reads them (with only some, a row with
        # a field too many would pass); its warnings are the checking reader's to give
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pd.read_csv(path, dtype={ts_col: np.int64, **dict.fromkeys(names, np.float64)})
    except (StopIteration, KeyError, *unreadable):
        return None
    ts = frame[ts_col].to_numpy(dtype=np.int64)
    # column-major, so that each column handed on is contiguous without a copy
    values = np.empty((len(frame), 5), order="F")
    for k, name in enumerate(names):
        values[:, k] = frame[name].to_numpy(dtype=np.float64)
    if np.isnan(values).any() or ((ts < 0) | (ts > MAX_TS_MS)).any():
        return None
    return ts, values, np.arange(2, len(frame) + 2)


def _read_checked_csv(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    columns = {name.strip().lower(): name for name in frame.columns}
    ts_col = next((columns[n] for n in TS_NAMES if n in columns), None)
    missing = [n for n in COLUMNS if n not in columns]
    if ts_col is None or missing:
        wanted = ["timestamp", *missing] if ts_col is None else missing
        raise DataError(f"{path}: line 1: missing column(s) {', '.join(wanted)} (found {', '.join(frame.columns)})")
    lines = np.arange(2, len(frame) + 2)
    ts = _parse_ts(frame[ts_col], lines, path)
    values = np.empty((len(frame), 5))
    for k, name in enumerate(COLUMNS):
        parsed = pd.to_numeric(frame[columns[name]].str.strip(), errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(np.isnan(parsed))
        if len(bad):
            row = int(bad[0])
            raw = frame[columns[name]].iloc[row]
            raise DataError(f"{path}: line {lines[row]}: {name} is not a number (got {raw!r})")
        values[:, k] = parsed
    return ts, values, lines


def _parse_ts(column: pd.Series, lines: np.ndarray, path: Path) -> np.ndarray:
    """Integer milliseconds, or ISO dates converted to them."""
    import pandas as pd

    text = column.str.strip()
    numeric = pd.to_numeric(text, errors="coerce")
    if not numeric.isna().any():
        values = numeric.to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~((values >= 0) & (values <= MAX_TS_MS)))
        if len(bad):
            row = int(bad[0])
            raise DataError(f"{path}: line {lines[row]}: {_ts_out_of_range(text.iloc[row])}")
        return values.astype(np.int64)
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataError(f"{path}: line {lines[row]}: timestamp {text.iloc[row]!r} is neither milliseconds nor a date")
    return parsed.dt.as_unit("ms").astype("int64").to_numpy(dtype=np.int64)


def _ts_out_of_range(raw: object) -> str:
    return f"timestamp {raw!r} is not a time: expected milliseconds since 1970-01-01 UTC, before the year 10000"


def _read_json(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ccxt's ``fetch_ohlcv`` shape: a list of [ts, open, high, low, close, volume]."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON: {exc}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a list of [timestamp, open, high, low, close, volume] rows")
    ts = np.empty(len(rows), dtype=np.int64)
    values = np.empty((len(rows), 5))
    for i, row in enumerate(rows):
        where = f"{path}: row {i + 1}"
        if not isinstance(row, list) or len(row) < 6:
            raise DataError(f"{where}: expected [timestamp, open, high, low, close, volume], got {row!r}")
        if not isinstance(row[0], int | float) or isinstance(row[0], bool):
            raise DataError(f"{where}: timestamp is not a number (got {row[0]!r})")
        if not 0 <= row[0] <= MAX_TS_MS:
            raise DataError(f"{where}: {_ts_out_of_range(row[0])}")
        ts[i] = int(row[0])
        for k, name in enumerate(COLUMNS):
            value = row[k + 1]
            if value is None or isinstance(value, bool) or not isinstance(value, int | float):
                raise DataError(f"{where}: {name} is not a number (got {value!r})")
            values[i, k] = float(value)
    return ts, values, np.arange(1, len(rows) + 1)


def _infer_timeframe(ts: np.ndarray) -> str:
    if len(ts) < 2:
        raise DataError("cannot infer the timeframe from a single candle; pass it explicitly")
    steps = np.diff(ts)
    positive = steps[steps > 0]
    if len(positive) == 0:
        return "1m"
    if (positive == positive[0]).all():
        step = int(positive[0])  # evenly spaced, as most files are: no need to sort the spacings
    else:
        values, counts = np.unique(positive, return_counts=True)
        step = int(values[np.argmax(counts)])
    for unit in ("w", "d", "h", "m", "s"):
        if step % _UNITS_MS[unit] == 0:
            return f"{step // _UNITS_MS[unit]}{unit}"
    raise DataError(f"candles are {step} ms apart, which is not a timeframe")


def _validate(ts: np.ndarray, values: np.ndarray, timeframe: str, allow_gaps: bool, lines: np.ndarray) -> None:
    step = timeframe_ms(timeframe)
    nan_rows, nan_cols = np.nonzero(~np.isfinite(values))
    if len(nan_rows):
        row = int(nan_rows[0])
        raise DataError(f"line {lines[row]}: {COLUMNS[int(nan_cols[0])]} is NaN or infinite at {format_ts(int(ts[row]))}")
    if len(ts) > 1:
        diffs = np.diff(ts)
        back = np.flatnonzero(diffs < 0)
        if len(back):
            i = int(back[0]) + 1
            raise DataError(
                f"line {lines[i]}: timestamps are not sorted: {format_ts(int(ts[i]))} comes after {format_ts(int(ts[i - 1]))}"
            )
        dup = np.flatnonzero(diffs == 0)
        if len(dup):
            i = int(dup[0]) + 1
            raise DataError(f"line {lines[i]}: duplicate timestamp {format_ts(int(ts[i]))} (also on line {lines[i - 1]})")
        off_grid = np.flatnonzero(diffs % step != 0)
        if len(off_grid):
            i = int(off_grid[0]) + 1
            raise DataError(
                f"line {lines[i]}: {format_ts(int(ts[i]))} is {int(diffs[i - 1])} ms after the previous candle, "
                f"not a multiple of the {timeframe} timeframe"
            )
        gaps = np.flatnonzero(diffs > step)
        if len(gaps) and not allow_gaps:
            i = int(gaps[0]) + 1
            missing = int(diffs[i - 1] // step) - 1
            raise DataError(
                f"line {lines[i]}: gap of {missing} missing {timeframe} candle(s) between "
                f"{format_ts(int(ts[i - 1]))} and {format_ts(int(ts[i]))} "
                f"({len(gaps)} gap(s) in the file; allow gaps (--allow-gaps) to backtest anyway)"
            )
    o, h, low, c, v = (values[:, k] for k in range(5))
    broken = np.flatnonzero((h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (low <= 0) | (v < 0))
    if len(broken):
        row = int(broken[0])
        raise DataError(
            f"line {lines[row]}: impossible candle at {format_ts(int(ts[row]))}: "
            f"open {o[row]}, high {h[row]}, low {low[row]}, close {c[row]}, volume {v[row]}"
        )


@dataclass(frozen=True)
class Tape:
    """Public trades of one symbol, in time order: ms timestamps, prices, sizes, and the
    aggressor's side (+1 buy, -1 sell)."""

    symbol: str
    ts: np.ndarray
    price: np.ndarray
    size: np.ndarray
    side: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)


TRADE_COLUMNS = ("timestamp", "price", "amount", "side")


def is_trades_file(path: str | Path) -> bool:
    """A CSV of trades (timestamp, price, amount, side) rather than candles."""
    path = Path(path)
    if path.suffix.lower() == ".json" or not path.is_file():
        return False
    with path.open(encoding="utf-8", errors="replace") as handle:
        header = {name.strip().lower() for name in handle.readline().split(",")}
    return set(TRADE_COLUMNS) <= header and "open" not in header


def load_trades(path: str | Path, *, symbol: str = "") -> Tape:
    """A trades CSV (timestamp, id, price, amount, side), checked like candles: every bad
    value and every timestamp going backwards is an error with its line."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    columns = {name.strip().lower(): name for name in frame.columns}
    missing = [n for n in TRADE_COLUMNS if n not in columns]
    if missing:
        raise DataError(f"{path}: line 1: missing column(s) {', '.join(missing)} (found {', '.join(frame.columns)})")
    if frame.empty:
        raise DataError(f"{path}: no trades in the file")
    lines = np.arange(2, len(frame) + 2)
    ts = _parse_ts(frame[columns["timestamp"]], lines, path)
    numbers = {}
    for name in ("price", "amount"):
        parsed = pd.to_numeric(frame[columns[name]].str.strip(), errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~(parsed > 0) | ~np.isfinite(parsed))
        if len(bad):
            row = int(bad[0])
            raise DataError(f"{path}: line {lines[row]}: {name} must be a positive number (got {frame[columns[name]].iloc[row]!r})")
        numbers[name] = parsed
    sides = frame[columns["side"]].str.strip().str.lower()
    bad_side = np.flatnonzero(~sides.isin(["buy", "sell"]).to_numpy())
    if len(bad_side):
        row = int(bad_side[0])
        raise DataError(f"{path}: line {lines[row]}: side must be buy or sell (got {sides.iloc[row]!r})")
    back = np.flatnonzero(np.diff(ts) < 0)
    if len(back):
        i = int(back[0]) + 1
        raise DataError(f"{path}: line {lines[i]}: timestamps are not sorted: "
                        f"{format_ts(int(ts[i]))} comes after {format_ts(int(ts[i - 1]))}")
    side = np.where(sides.to_numpy() == "buy", 1, -1).astype(np.int8)
    return Tape(symbol or path.stem, ts, numbers["price"], numbers["amount"], side)


def bars_from_trades(tape: Tape, timeframe: str, *, allow_gaps: bool = False) -> Bars:
    """Candles of ``timeframe`` built from the trades (periods without a trade are gaps)."""
    step = timeframe_ms(timeframe)
    buckets = tape.ts - tape.ts % step
    starts = np.flatnonzero(np.diff(buckets, prepend=buckets[0] - 1))
    ends = np.append(starts[1:], len(tape))
    high = np.maximum.reduceat(tape.price, starts)
    low = np.minimum.reduceat(tape.price, starts)
    volume = np.add.reduceat(tape.size, starts)
    values = np.column_stack([tape.price[starts], high, low, tape.price[ends - 1], volume])
    return bars_from_arrays(tape.symbol, timeframe, buckets[starts], values, allow_gaps=allow_gaps)
