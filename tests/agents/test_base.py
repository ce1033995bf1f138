"""AnalysisContext and Candles: every accepted input shape, validation, freshness, sharing."""

from __future__ import annotations

import numpy as np
import pytest

from agents.base import AnalysisContext, Candles, json_safe, scored_opinion
from core.backtest.data import DataError, bars_from_arrays
from core.models import Candle, Direction
from tests.agents.conftest import HOUR, START, make_candles


def test_candles_from_every_shape_agree() -> None:
    reference = make_candles(n=70)
    rows = np.column_stack([reference.ts, reference.open, reference.high, reference.low, reference.close,
                            reference.volume])
    models = [Candle(ts=int(r[0]), open=r[1], high=r[2], low=r[3], close=r[4], volume=r[5]) for r in rows]
    bars = bars_from_arrays("BTC/USDT", "1h", reference.ts, rows[:, 1:])
    for value in (reference, reference.to_frame(), rows, rows.tolist(), models, bars):
        candles = Candles.coerce(value)
        np.testing.assert_array_equal(candles.ts, reference.ts)
        np.testing.assert_allclose(candles.close, reference.close)
    assert len(reference.tail(10)) == 10 and reference.tail(500) is reference


def test_bad_candles_are_refused() -> None:
    with pytest.raises(ValueError, match="six columns"):
        Candles.coerce([[1, 2, 3]])
    with pytest.raises(ValueError, match="lacks column"):
        Candles.coerce(make_candles(n=5).to_frame().drop(columns=["volume"]))
    with pytest.raises(DataError, match="timeframe"):
        AnalysisContext(symbol="BTC/USDT", now_ms=0, candles={"hourly": make_candles(n=5)})


def test_data_age_is_measured_from_the_close_of_the_last_candle() -> None:
    candles = make_candles(n=70)
    closed = int(candles.ts[-1]) + HOUR
    context = AnalysisContext(symbol="BTC/USDT", now_ms=closed + 5_000, candles={"1h": candles})
    assert context.data_age_ms() == 5_000
    assert context.primary_timeframe == "1h" and context.series("4h") is None
    early = AnalysisContext(symbol="BTC/USDT", now_ms=START, candles={"1h": candles})
    assert early.data_age_ms() == 0
    empty = AnalysisContext(symbol="BTC/USDT", now_ms=START, candles={})
    assert empty.series() is None and empty.data_age_ms() is None


def test_memo_computes_once_per_context() -> None:
    context = AnalysisContext(symbol="BTC/USDT", now_ms=START, candles={"1h": make_candles(n=70)})
    calls: list[int] = []
    assert context.memo("x", lambda: calls.append(1) or 42) == 42
    assert context.memo("x", lambda: calls.append(1) or 0) == 42
    assert calls == [1]


def test_scored_opinion_dead_band_and_json_safety() -> None:
    opinion = scored_opinion("market", 0.1, 0.5, "weak", {"x": float("nan"), "y": np.float64(1.23456789)}, None)
    assert opinion.direction is Direction.HOLD and opinion.strength == 0.1
    assert opinion.inputs == {"x": None, "y": 1.234568}
    assert scored_opinion("market", -2.0, 2.0, "", {}, None).model_dump()["strength"] == 1.0
    assert json_safe({"a": (np.int64(3), float("inf"))}) == {"a": [3, None]}
