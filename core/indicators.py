"""Technical indicators over numpy float64 arrays, vectorised.

Every function takes whole series and returns a series of the same length, with NaN where the
window is not yet full, so results line up index by index with the candles they came from.
The agents evaluate dozens of these per symbol per cycle on a few hundred candles, where a
pandas call costs more in set-up than in arithmetic; so recursive averages run as blocked
closed-form numpy (see ``_recursive_mean``) and rolling moments come from cumulative sums.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
_BLOCK = 256  # block length of the closed-form recursion: keeps decay**-k far from overflow


def _as_float(values: npt.ArrayLike) -> Array:
    return np.asarray(values, dtype=np.float64)


def _check_period(period: int) -> None:
    if period < 1:
        raise ValueError(f"indicator period must be at least 1 (got {period})")


def sma(values: npt.ArrayLike, period: int) -> Array:
    """Simple moving average, NaN for the first ``period - 1`` values."""
    _check_period(period)
    x = _as_float(values)
    out = np.full(x.shape, np.nan)
    if len(x) < period:
        return out
    out[period - 1 :] = _window_sums(x, period) / period
    return out


def ema(values: npt.ArrayLike, period: int) -> Array:
    """Exponential moving average (alpha = 2 / (period + 1)), NaN until ``period`` values exist."""
    _check_period(period)
    return _recursive_mean(_as_float(values), 2.0 / (period + 1), period)


def wilder(values: npt.ArrayLike, period: int) -> Array:
    """Wilder's smoothing (alpha = 1 / period), the average RSI, ATR and ADX are defined with."""
    _check_period(period)
    return _recursive_mean(_as_float(values), 1.0 / period, period)


def _recursive_mean(x: Array, alpha: float, min_periods: int) -> Array:
    """y[t] = (1 - alpha) * y[t-1] + alpha * x[t], started at the first non-NaN value.

    Within a block, y[j+i] = d**(i+1) * y[j-1] + alpha * d**i * sum(x[j+k] * d**-k, k <= i) with
    d = 1 - alpha, which numpy evaluates with one cumulative sum per block. Only leading NaNs
    (an earlier indicator's warm-up) are allowed; NaN is returned for the first
    ``min_periods - 1`` valid values.
    """
    out = np.full(x.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(x))
    if not len(valid):
        return out
    start = int(valid[0])
    series = x[start:]
    if np.isnan(series).any():
        raise ValueError("recursive averages accept NaN only before the first value")
    decay = 1.0 - alpha
    result = np.empty_like(series)
    result[0] = series[0]
    if decay == 0.0:
        result[:] = series
    else:
        powers = decay ** np.arange(_BLOCK + 1)
        inverse = 1.0 / powers[:-1]
        previous = series[0]
        for j in range(1, len(series), _BLOCK):
            block = series[j : j + _BLOCK]
            m = len(block)
            sums = np.cumsum(block * inverse[:m])
            result[j : j + m] = powers[1 : m + 1] * previous + alpha * powers[:m] * sums
            previous = result[j + m - 1]
    result[: min_periods - 1] = np.nan
    out[start:] = result
    return out


def rolling_std(values: npt.ArrayLike, period: int) -> Array:
    """Population standard deviation over a trailing window."""
    _check_period(period)
    x = _as_float(values)
    out = np.full(x.shape, np.nan)
    if len(x) < period:
        return out
    missing = np.isnan(x)
    gaps = int(missing.sum())
    if gaps == len(x):
        return out
    centred = x - (np.nanmean(x) if gaps else x.mean())  # centring keeps the sums small
    if gaps:
        centred[missing] = 0.0
    total = _window_sums(centred, period)
    mean = total / period
    variance = _window_sums(centred * centred, period) / period - mean * mean
    std = np.sqrt(np.maximum(variance, 0.0))
    if gaps:
        std[_window_sums(missing.astype(np.float64), period) > 0] = np.nan
    out[period - 1 :] = std
    return out


def _window_sums(x: Array, period: int) -> Array:
    """Sums of every window of ``period`` consecutive values (len(x) - period + 1 of them)."""
    csum = np.cumsum(x)
    sums = csum[period - 1 :].copy()
    sums[1:] -= csum[:-period]
    return sums


def log_returns(close: npt.ArrayLike) -> Array:
    """One-period log returns; the first value is NaN."""
    c = _as_float(close)
    out = np.full(c.shape, np.nan)
    if len(c) > 1:
        out[1:] = np.diff(np.log(c))
    return out


def rsi(close: npt.ArrayLike, period: int = 14) -> Array:
    """Relative strength index in [0, 100] with Wilder smoothing; 50 when nothing moved."""
    c = _as_float(close)
    if len(c) < 2:
        return np.full(c.shape, np.nan)
    delta = np.diff(c, prepend=np.nan)
    gain = np.where(delta > 0, delta, 0.0)
    loss = np.where(delta < 0, -delta, 0.0)
    gain[0] = loss[0] = np.nan
    avg_gain = wilder(gain[1:], period)
    avg_loss = wilder(loss[1:], period)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = avg_gain + avg_loss
        value = np.where(total > 0, 100.0 * avg_gain / total, 50.0)
    value = np.where(np.isnan(avg_gain), np.nan, value)
    return np.concatenate(([np.nan], value))


def macd(
    close: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[Array, Array, Array]:
    """MACD line, signal line and histogram."""
    if fast >= slow:
        raise ValueError(f"MACD fast period ({fast}) must be shorter than the slow one ({slow})")
    c = _as_float(close)
    line = ema(c, fast) - ema(c, slow)
    valid = ~np.isnan(line)
    sig = np.full(c.shape, np.nan)
    if valid.sum() >= signal:
        sig[valid] = ema(line[valid], signal)
    return line, sig, line - sig


def bollinger(close: npt.ArrayLike, period: int = 20, width: float = 2.0) -> tuple[Array, Array, Array]:
    """Middle, upper and lower Bollinger bands."""
    mid = sma(close, period)
    dev = rolling_std(close, period)
    return mid, mid + width * dev, mid - width * dev


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> Array:
    h, lo, c = _as_float(high), _as_float(low), _as_float(close)
    prev = np.concatenate(([np.nan], c[:-1])) if len(c) else c
    ranges = np.vstack([h - lo, np.abs(h - prev), np.abs(lo - prev)])
    tr = np.nanmax(ranges, axis=0) if len(c) else c
    return tr


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> Array:
    """Average true range (Wilder)."""
    return wilder(true_range(high, low, close), period)


def adx(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14
) -> tuple[Array, Array, Array]:
    """ADX with the +DI and -DI lines it is built from, all in [0, 100]."""
    h, lo = _as_float(high), _as_float(low)
    up = np.diff(h, prepend=np.nan)
    down = -np.diff(lo, prepend=np.nan)
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    tr = true_range(h, lo, close)
    if len(tr):
        plus_dm[0] = minus_dm[0] = tr[0] = np.nan
    smoothed_tr = _shifted_wilder(tr, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        plus_di = 100.0 * _shifted_wilder(plus_dm, period) / smoothed_tr
        minus_di = 100.0 * _shifted_wilder(minus_dm, period) / smoothed_tr
        di_sum = plus_di + minus_di
        dx = np.where(di_sum > 0, 100.0 * np.abs(plus_di - minus_di) / di_sum, 0.0)
    dx = np.where(np.isnan(plus_di), np.nan, dx)
    return _shifted_wilder(dx, period), plus_di, minus_di


def _shifted_wilder(values: Array, period: int) -> Array:
    """Wilder smoothing of a series whose first values are NaN (warm-up of an earlier stage)."""
    out = np.full(values.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(values))
    if len(valid):
        start = valid[0]
        out[start:] = wilder(values[start:], period)
    return out


def vwap(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    period: int | None = None,
) -> Array:
    """Volume-weighted average of the typical price: cumulative, or over a trailing window."""
    typical = (_as_float(high) + _as_float(low) + _as_float(close)) / 3.0
    vol = _as_float(volume)
    if period is None:
        pv, v = np.cumsum(typical * vol), np.cumsum(vol)
    else:
        pv, v = sma(typical * vol, period) * period, sma(vol, period) * period
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, pv / v, typical)


def zscore(values: npt.ArrayLike, period: int) -> Array:
    """How many trailing standard deviations each value sits from its trailing mean."""
    x = _as_float(values)
    mean, dev = sma(x, period), rolling_std(x, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(dev > 0, (x - mean) / dev, 0.0) * np.where(np.isnan(mean), np.nan, 1.0)


def realized_volatility(close: npt.ArrayLike, period: int, periods_per_year: float | None = None) -> Array:
    """Standard deviation of log returns over a trailing window, annualised when asked."""
    vol = rolling_std(log_returns(close), period)
    return vol * np.sqrt(periods_per_year) if periods_per_year else vol


def efficiency_ratio(close: npt.ArrayLike, period: int) -> Array:
    """Kaufman's efficiency ratio in [0, 1]: net move over the path travelled (1 = straight line)."""
    _check_period(period)
    c = _as_float(close)
    out = np.full(c.shape, np.nan)
    if len(c) <= period:
        return out
    net = np.abs(c[period:] - c[:-period])
    steps = np.abs(np.diff(c))
    path = np.convolve(steps, np.ones(period), mode="valid")
    with np.errstate(divide="ignore", invalid="ignore"):
        out[period:] = np.where(path > 0, net / path, 0.0)
    return out


def last(values: Array) -> float:
    """The latest value of an indicator series (NaN for an empty series)."""
    return float(values[-1]) if len(values) else float("nan")
