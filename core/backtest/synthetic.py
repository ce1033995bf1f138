"""Seeded synthetic candles (geometric Brownian motion) for benchmarks and demos: a million
candles cost a fraction of a second, and the same seed always gives the same market."""

from __future__ import annotations

import numpy as np

from core.backtest.data import Bars, bars_from_arrays, timeframe_ms


def gbm_bars(
    n: int,
    *,
    seed: int = 1,
    symbol: str = "BTC/USDT",
    timeframe: str = "1m",
    start_price: float = 30_000.0,
    volatility: float = 0.0008,
    drift: float = 0.0,
    start_ms: int = 1_704_067_200_000,
) -> Bars:
    """Candles whose closes follow a GBM with per-candle ``volatility``; prices in cents."""
    rng = np.random.default_rng(seed)
    log_close = np.log(start_price) + np.cumsum(drift - 0.5 * volatility**2 + volatility * rng.standard_normal(n))
    close = np.round(np.exp(log_close), 2)
    open_ = np.round(np.concatenate(([start_price], close[:-1])), 2)
    wick = np.abs(rng.standard_normal((2, n))) * volatility * 0.5 * close
    high = np.round(np.maximum(open_, close) + wick[0], 2)
    low = np.round(np.minimum(open_, close) - wick[1], 2)
    volume = np.round(rng.gamma(2.0, 5.0, n), 4)
    ts = start_ms + np.arange(n, dtype=np.int64) * timeframe_ms(timeframe)
    return bars_from_arrays(symbol, timeframe, ts, np.column_stack([open_, high, low, close, volume]))
