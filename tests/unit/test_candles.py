"""Candles built tick by tick and in one pass agree exactly."""

from __future__ import annotations

import random

import pytest

from core.market import TIMEFRAMES_MS, CandleBuilder
from core.models import Candle


def test_extend_equals_adding_tick_by_tick() -> None:
    rng = random.Random(5)
    ts, ticks = 1_704_067_200_000, []
    for _ in range(3000):
        ts += rng.randint(1, 4000)
        ticks.append((ts, 100 + rng.random(), rng.random()))
    for period in TIMEFRAMES_MS.values():
        one, many = CandleBuilder(period), CandleBuilder(period)
        for tick in ticks:
            one.add(*tick)
        many.extend(ticks[:1000])
        many.extend(ticks[1000:])
        assert [(c.ts, c.open, c.high, c.low, c.close) for c in one.candles] == [
            (c.ts, c.open, c.high, c.low, c.close) for c in many.candles
        ]
        assert [c.volume for c in one.candles] == pytest.approx([c.volume for c in many.candles])


def _candle(ts: int, o: float, h: float, low: float, c: float, v: float) -> Candle:
    return Candle(ts=ts, open=o, high=h, low=low, close=c, volume=v)


def test_history_goes_ahead_of_the_live_candles_and_the_shared_one_takes_the_venues_open_and_extremes() -> None:
    builder = CandleBuilder(60_000, keep=4)
    builder.add(180_000 + 30_000, 105.0, 1.0)  # this process saw the middle of the 3rd minute on
    builder.add(240_000 + 1_000, 106.0, 2.0)
    history = [_candle(60_000 * i, 100.0 + i, 110.0 + i, 90.0 + i, 101.0 + i, 10.0) for i in range(4)]
    builder.backfill(history)
    assert [c.ts for c in builder.candles] == [60_000, 120_000, 180_000, 240_000], "the oldest falls off at keep"
    shared = builder.candles[2]
    assert (shared.open, shared.high, shared.low, shared.close, shared.volume) == (103.0, 113.0, 93.0, 105.0, 10.0)
    assert builder.candles[3].close == 106.0, "the live candle stays as built from the trades"
    builder.add(240_000 + 2_000, 107.0, 1.0)
    assert builder.candles[3].close == 107.0 and history[3].close == 104.0, "the venue's candles are not changed"


def test_history_into_an_empty_builder_is_all_of_it_and_live_trades_continue_its_last_candle() -> None:
    builder = CandleBuilder(60_000)
    history = [_candle(0, 1.0, 2.0, 0.5, 1.5, 3.0), _candle(60_000, 1.5, 1.6, 1.4, 1.5, 1.0)]
    builder.backfill(history)
    builder.add(60_000 + 5_000, 1.7, 0.5)
    assert [(c.ts, c.high, c.close, c.volume) for c in builder.candles] == [(0, 2.0, 1.5, 3.0), (60_000, 1.7, 1.7, 1.5)]
    assert history[1].close == 1.5, "the caller's candle is not changed"
