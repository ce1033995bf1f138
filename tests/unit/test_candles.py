"""Candles built tick by tick and in one pass agree exactly."""

from __future__ import annotations

import random

import pytest

from core.market import TIMEFRAMES_MS, CandleBuilder


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
