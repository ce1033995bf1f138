"""Running the SMA crossover through backtesting.py, the reference the backtester is checked against."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from core.backtest.data import Bars
from core.indicators import sma


def backtesting_py_sma_cross(bars: Bars, fast: int, slow: int, *, cash: float, fee: float, invest: float = 0.9999) -> Any:
    """backtesting.py's FractionalBacktest with the canonical SmaCross (close, then reverse).

    Orders are sized at ``invest`` of the equity explicitly: backtesting.py 0.6 changed its
    default from 0.9999 to all of it (1 - epsilon).

    The averages are computed once on the unscaled closes and handed over as they are, so the
    comparison is of the trading engines, not of two moving-average implementations.
    """
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest, crossover

    fast_sma, slow_sma = sma(bars.close, fast), sma(bars.close, slow)

    class SmaCross(Strategy):
        def init(self) -> None:
            self.fast = self.I(lambda: fast_sma, name="fast", overlay=False)
            self.slow = self.I(lambda: slow_sma, name="slow", overlay=False)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy(size=invest)
            elif crossover(self.slow, self.fast):
                self.position.close()
                self.sell(size=invest)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = FractionalBacktest(bars.to_frame(), SmaCross, cash=cash, commission=fee, finalize_trades=False)
        return test.run()


def reference_trades(stats: Any) -> list[tuple[int, int, str]]:
    trades = stats["_trades"]
    return [
        (int(entry), int(exit_), "long" if size > 0 else "short")
        for entry, exit_, size in zip(trades["EntryBar"], trades["ExitBar"], np.sign(trades["Size"]), strict=True)
    ]
