"""Indicators against straightforward loop implementations of their textbook definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import indicators as ta


@pytest.fixture
def prices() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    high = close * (1 + rng.uniform(0, 0.01, 300))
    low = close * (1 - rng.uniform(0, 0.01, 300))
    volume = rng.uniform(1, 10, 300)
    return close, high, low, volume


def _wilder_loop(values: np.ndarray, period: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    avg = None
    seen = 0
    for i, v in enumerate(values):
        if np.isnan(v):
            continue
        seen += 1
        avg = v if avg is None else avg + (v - avg) / period
        if seen >= period:
            out[i] = avg
    return out


def test_sma_matches_pandas_and_leaves_warmup_nan(prices) -> None:
    close = prices[0]
    expected = pd.Series(close).rolling(20).mean().to_numpy()
    np.testing.assert_allclose(ta.sma(close, 20), expected, equal_nan=True)
    assert np.isnan(ta.sma(close, 20)[:19]).all()
    assert np.isnan(ta.sma(close[:5], 20)).all()


def test_ema_matches_the_recursive_definition(prices) -> None:
    close = prices[0]
    alpha = 2 / 11
    expected = np.empty_like(close)
    expected[0] = close[0]
    for i in range(1, len(close)):
        expected[i] = alpha * close[i] + (1 - alpha) * expected[i - 1]
    expected[:9] = np.nan
    np.testing.assert_allclose(ta.ema(close, 10), expected, equal_nan=True)


def test_rsi_matches_wilder_loop(prices) -> None:
    close = prices[0]
    delta = np.diff(close)
    gain = _wilder_loop(np.where(delta > 0, delta, 0.0), 14)
    loss = _wilder_loop(np.where(delta < 0, -delta, 0.0), 14)
    expected = np.concatenate(([np.nan], 100 * gain / (gain + loss)))
    np.testing.assert_allclose(ta.rsi(close, 14), expected, equal_nan=True)


def test_rsi_extremes_and_flat() -> None:
    assert ta.rsi(np.arange(1.0, 60.0))[-1] == pytest.approx(100.0)
    assert ta.rsi(np.arange(60.0, 1.0, -1))[-1] == pytest.approx(0.0)
    assert ta.rsi(np.ones(40))[-1] == 50.0
    assert np.isnan(ta.rsi(np.array([1.0]))).all()


def test_atr_matches_loop(prices) -> None:
    close, high, low, _ = prices
    prev = np.concatenate(([np.nan], close[:-1]))
    tr = np.array([
        max(h - lo, abs(h - p), abs(lo - p)) if not np.isnan(p) else h - lo
        for h, lo, p in zip(high, low, prev, strict=True)
    ])
    np.testing.assert_allclose(ta.atr(high, low, close, 14), _wilder_loop(tr, 14), equal_nan=True)


def test_macd_is_the_difference_of_emas(prices) -> None:
    close = prices[0]
    line, signal, hist = ta.macd(close)
    np.testing.assert_allclose(line, ta.ema(close, 12) - ta.ema(close, 26), equal_nan=True)
    np.testing.assert_allclose(hist, line - signal, equal_nan=True)
    assert np.isnan(signal[:33]).all() and not np.isnan(signal[33:]).any()
    with pytest.raises(ValueError, match="shorter"):
        ta.macd(close, fast=26, slow=12)


def test_bollinger_bands_straddle_the_mean(prices) -> None:
    close = prices[0]
    mid, upper, lower = ta.bollinger(close, 20, 2.0)
    std = pd.Series(close).rolling(20).std(ddof=0).to_numpy()
    np.testing.assert_allclose(upper - mid, 2 * std, equal_nan=True)
    np.testing.assert_allclose(mid - lower, 2 * std, equal_nan=True)


def test_adx_is_high_in_a_clean_trend_and_low_in_noise() -> None:
    steps = np.arange(200.0)
    close = 100 + steps
    up_adx, plus_di, minus_di = ta.adx(close + 0.5, close - 0.5, close, 14)
    assert up_adx[-1] > 90 and plus_di[-1] > minus_di[-1]
    rng = np.random.default_rng(3)
    noise = 100 + rng.normal(0, 0.5, 200)
    noise_adx, _, _ = ta.adx(noise + 0.5, noise - 0.5, noise, 14)
    assert noise_adx[-1] < 30
    assert np.isnan(up_adx[:27]).all() and not np.isnan(up_adx[27:]).any()


def test_vwap_weights_by_volume() -> None:
    high = np.array([11.0, 21.0, 31.0])
    low = np.array([9.0, 19.0, 29.0])
    close = np.array([10.0, 20.0, 30.0])
    volume = np.array([1.0, 0.0, 3.0])
    np.testing.assert_allclose(ta.vwap(high, low, close, volume), [10.0, 10.0, 25.0])
    np.testing.assert_allclose(ta.vwap(high, low, close, volume, period=2)[1:], [10.0, 30.0])


def test_zscore_volatility_and_efficiency() -> None:
    line = np.arange(1.0, 101.0)
    assert ta.efficiency_ratio(line, 10)[-1] == pytest.approx(1.0)
    assert ta.zscore(line, 20)[-1] == pytest.approx((100 - 90.5) / np.std(np.arange(81.0, 101.0)))
    steady = 100 * 1.01 ** np.arange(50)
    assert ta.realized_volatility(steady, 20)[-1] == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(11)
    noisy = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 5000)))
    assert ta.realized_volatility(noisy, 4000)[-1] == pytest.approx(0.02, rel=0.05)
    assert ta.realized_volatility(noisy, 4000, 365)[-1] == pytest.approx(0.02 * np.sqrt(365), rel=0.05)


def test_bad_period_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ta.sma([1.0, 2.0], 0)


@pytest.mark.parametrize("period", [1, 2, 14, 200])
def test_recursive_mean_across_blocks_matches_the_loop(period: int) -> None:
    rng = np.random.default_rng(period)
    values = np.concatenate(([np.nan] * 3, 50_000 + np.cumsum(rng.normal(0, 100, 1500))))
    expected = _wilder_loop(values, period)
    np.testing.assert_allclose(ta.wilder(values, period), expected, rtol=1e-10, equal_nan=True)
    with pytest.raises(ValueError, match="NaN only before"):
        ta.ema(np.array([1.0, np.nan, 2.0]), 2)


def test_rolling_std_leaves_windows_with_gaps_undefined() -> None:
    values = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0])
    result = ta.rolling_std(values, 3)
    assert np.isnan(result[:5]).all()
    np.testing.assert_allclose(result[5:], np.std([4.0, 5.0, 6.0]))
    prices = 60_000 + np.cumsum(np.random.default_rng(5).normal(0, 50, 5000))
    expected = pd.Series(prices).rolling(20).std(ddof=0).to_numpy()
    np.testing.assert_allclose(ta.rolling_std(prices, 20), expected, rtol=1e-6, equal_nan=True)
