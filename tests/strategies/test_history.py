"""A strategy's candle history: the moving averages it reads from running sums are the series'."""

from __future__ import annotations

import numpy as np
import pytest

from core.indicators import sma
from core.models import Candle
from core.strategies.sma_cross import SmaCross


def test_close_means_and_columns_follow_the_candles_across_buffer_turns() -> None:
    rng = np.random.default_rng(3)
    closes = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.002, 1000)))
    strategy = SmaCross({"fast": 5, "slow": 100})
    history = strategy.history("BTC/USDT")  # keeps the last 101: the buffer turns every 101 candles
    for k, close in enumerate(closes.tolist()):
        strategy.record("BTC/USDT", Candle.trusted(k * 60_000, close, close, close, close, 1.0))
        for period in (1, 5, 100):
            for back in range(min(2, len(history) - period + 1)):
                expected = sma(closes[:k + 1], period)[k - back]
                assert history.close_mean(period, back) == pytest.approx(expected, rel=1e-13, abs=0)
        if k % 97 == 0 or k % 101 == 3:  # the columns, read now and then, hold every candle kept, written or not
            assert history.close.tolist() == closes[max(0, k - 100):k + 1].tolist()
            assert history.column(0).tolist() == [60_000 * j for j in range(max(0, k - 100), k + 1)]
    assert history.close.tolist() == closes[-101:].tolist()


def test_a_mean_longer_than_the_history_is_refused() -> None:
    strategy = SmaCross()
    for k in range(3):
        strategy.record("BTC/USDT", Candle.trusted(k * 60_000, 1.0, 1.0, 1.0, 1.0, 1.0))
    history = strategy.history("BTC/USDT")
    assert history.close_mean(2, 1) == 1.0
    with pytest.raises(ValueError, match="a mean of 3 closes 1 candles back needs 4 candles \\(there are 3\\)"):
        history.close_mean(3, 1)
    with pytest.raises(ValueError, match="needs"):
        history.close_mean(0)


def test_close_means_are_the_two_latest_means_in_one_call() -> None:
    rng = np.random.default_rng(5)
    closes = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.002, 300)))
    strategy = SmaCross({"fast": 5, "slow": 100})
    history = strategy.history("BTC/USDT")
    for k, close in enumerate(closes.tolist()):
        strategy.record("BTC/USDT", Candle.trusted(k * 60_000, close, close, close, close, 1.0))
        for period in (1, 5, 100):
            if len(history) > period:
                assert history.close_means(period) == (history.close_mean(period, 1), history.close_mean(period))
            else:
                with pytest.raises(ValueError, match=f"a mean of {period} closes 1 candles back needs {period + 1}"):
                    history.close_means(period)
