"""Momentum: long while the close is above the close ``lookback`` candles earlier, flat otherwise.

Long only, so it never sells short on a spot market. It decides on each closed candle and
trades at the next price, as every ``TargetStrategy`` does, in a backtest and live alike.
"""

from __future__ import annotations

from typing import ClassVar

from core.models import Candle, Direction
from core.strategies.base import Param, TargetStrategy


class Momentum(TargetStrategy):
    name: ClassVar[str] = "example_momentum"  # the entry point's name in pyproject.toml
    summary: ClassVar[str] = "long while the close is above the close N candles ago (example plugin)"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("lookback", int, 12, low=1, high=500, doc="candles between the two closes compared"),
        Param("invest", float, 0.5, low=0.01, high=1.0, doc="share of equity held while long"),
    )

    def warmup(self) -> int:
        return int(self.params["lookback"]) + 1

    async def on_bar(self, symbol: str, candle: Candle) -> None:
        closes = self.history(symbol).close
        if len(closes) < self.warmup():
            return
        rising = closes[-1] > closes[-1 - self.params["lookback"]]
        target = self.params["invest"] if rising else 0.0
        if target != self.targets.get(symbol, 0.0):
            self.aim(symbol, target)
            self.ctx.emit(symbol, Direction.BUY if rising else Direction.SELL, target_price=candle.close)
