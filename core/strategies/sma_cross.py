"""SMA crossover: the reference strategy, for validation against other backtesters.

Always in the market after the first cross: long when the fast average crosses above the slow
one, short when it crosses below, reversing at the next price after the candle that crossed
(the next open in a backtest). Each entry invests ``invest`` of the available equity in
fractional size, as backtesting.py's FractionalBacktest does with its default order size.
A cross means strictly below then strictly above (and vice versa), as backtesting.py's
``crossover``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from core.backtest.data import Bars
from core.indicators import sma
from core.models import Direction
from core.strategies.base import CandleLike, Param, TargetStrategy


def cross_targets(fast: np.ndarray, slow: np.ndarray, invest: float) -> np.ndarray:
    """+invest from an upward cross on, -invest from a downward cross on, 0 before the first."""
    up = (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])
    down = (fast[:-1] > slow[:-1]) & (fast[1:] < slow[1:])
    marks = np.zeros(len(fast), dtype=np.int8)
    marks[1:][up] = 1
    marks[1:][down] = -1
    return hold_marks(marks) * invest


def hold_marks(marks: np.ndarray) -> np.ndarray:
    """Carry each non-zero mark forward until the next one (0 before the first)."""
    where = np.flatnonzero(marks)
    out = np.zeros(len(marks), dtype=np.float64)
    if len(where):
        index = np.maximum.accumulate(np.where(marks != 0, np.arange(len(marks)), 0))
        out[where[0]:] = marks[index[where[0]:]]
    return out


class SmaCross(TargetStrategy):
    name: ClassVar[str] = "sma_cross"
    summary: ClassVar[str] = "long/short SMA crossover, reversing on each cross"
    vectorised: ClassVar[bool] = True
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("fast", int, 20, low=2, high=500, doc="bars in the fast average"),
        Param("slow", int, 100, low=3, high=2000, doc="bars in the slow average"),
        Param("invest", float, 0.9999, low=0.01, high=1.0, doc="share of equity each entry invests", tunable=False),
    )

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]:
        if params["fast"] >= params["slow"]:
            return [f"fast ({params['fast']}) must be smaller than slow ({params['slow']})"]
        return []

    @classmethod
    def short_symbols(cls, params: Mapping[str, Any], symbols: Sequence[str]) -> list[str]:
        return list(symbols)

    @classmethod
    def vector_targets(cls, bars: Bars, params: Mapping[str, Any]) -> np.ndarray:
        return cross_targets(sma(bars.close, params["fast"]), sma(bars.close, params["slow"]), params["invest"])

    def warmup(self) -> int:
        return int(self.params["slow"]) + 1

    def on_bar(self, symbol: str, candle: CandleLike) -> None:
        history, params = self.history(symbol), self.params
        if len(history) <= params["slow"]:  # the slow mean a candle back needs warmup() = slow + 1 candles
            return
        fast_before, fast = history.close_means(params["fast"])
        slow_before, slow = history.close_means(params["slow"])
        if fast_before < slow_before and fast > slow:
            self.aim(symbol, self.params["invest"])
            self.ctx.emit(symbol, Direction.BUY, target_price=candle.close)
        elif fast_before > slow_before and fast < slow:
            self.aim(symbol, -self.params["invest"])
            self.ctx.emit(symbol, Direction.SELL, target_price=candle.close)
