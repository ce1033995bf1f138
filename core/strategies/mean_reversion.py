"""Mean reversion: fade moves that stretch the price far from its trailing mean.

The deviation is the z-score of the close over ``period`` candles, i.e. the distance to the
middle Bollinger band in band widths: a Bollinger band of width k is the z = +-k line. Enter
against the move beyond ``entry_z``, exit when it is back within ``exit_z``, and cut the
position beyond ``stop_z`` — after a stop, that side stays closed until the price comes back
inside the entry band, so a trend that keeps going does not stop the strategy out repeatedly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from core.backtest.data import Bars
from core.indicators import zscore
from core.models import Direction
from core.strategies.base import CandleLike, Param, TargetStrategy

if TYPE_CHECKING:
    from core.strategies.recovery import Recovery

FLAT, LONG, SHORT, STOPPED_LONG, STOPPED_SHORT = 0, 1, -1, 2, -2


def next_state(state: int, z: float, params: Mapping[str, Any]) -> int:
    """The one state machine both backtest paths and live trading run."""
    if math.isnan(z):
        return state
    entry, leave, stop = params["entry_z"], params["exit_z"], params["stop_z"]
    if state == LONG:
        return STOPPED_LONG if z <= -stop else FLAT if z >= -leave else LONG
    if state == SHORT:
        return STOPPED_SHORT if z >= stop else FLAT if z <= leave else SHORT
    if state == STOPPED_LONG:
        return FLAT if z > -entry else STOPPED_LONG
    if state == STOPPED_SHORT:
        return FLAT if z < entry else STOPPED_SHORT
    if z <= -entry:
        return LONG
    if z >= entry and params["allow_short"]:
        return SHORT
    return FLAT


def exposure(state: int, params: Mapping[str, Any]) -> float:
    return state * params["position_size_pct"] if state in (LONG, SHORT) else 0.0


class MeanReversion(TargetStrategy):
    name: ClassVar[str] = "mean_reversion"
    summary: ClassVar[str] = "fade z-score / Bollinger deviations, with exit and stop bands"
    vectorised: ClassVar[bool] = True
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("period", int, 20, low=5, high=500, doc="candles in the mean and deviation"),
        Param("entry_z", float, 2.0, low=0.5, high=5.0, doc="enter beyond this many deviations"),
        Param("exit_z", float, 0.5, low=0.0, high=3.0, doc="exit once back within this many"),
        Param("stop_z", float, 3.5, low=1.0, high=10.0, doc="stop out beyond this many"),
        Param("position_size_pct", float, 0.5, low=0.01, high=1.0, doc="share of equity per position"),
        Param("allow_short", bool, True, doc="also fade upward stretches"),
    )

    def __init__(self, params: Mapping[str, Any] | None = None, *, strategy_id: str | None = None) -> None:
        super().__init__(params, strategy_id=strategy_id)
        self.states: dict[str, int] = {}

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]:
        if not params["exit_z"] < params["entry_z"] < params["stop_z"]:
            return [
                f"the bands must nest: exit_z ({params['exit_z']:g}) < entry_z ({params['entry_z']:g}) "
                f"< stop_z ({params['stop_z']:g})"
            ]
        return []

    @classmethod
    def short_symbols(cls, params: Mapping[str, Any], symbols: Sequence[str]) -> list[str]:
        return list(symbols) if params["allow_short"] else []

    @classmethod
    def vector_targets(cls, bars: Bars, params: Mapping[str, Any]) -> np.ndarray:
        z = zscore(bars.close, params["period"])
        targets = np.zeros(len(bars))
        state = FLAT
        for i, value in enumerate(z.tolist()):
            state = next_state(state, value, params)
            targets[i] = exposure(state, params)
        return targets

    def warmup(self) -> int:
        return int(self.params["period"])

    def on_bar(self, symbol: str, candle: CandleLike) -> None:
        history = self.history(symbol)
        if len(history) < self.warmup():
            return
        z = float(zscore(history.close, self.params["period"])[-1])
        before = self.states.get(symbol, FLAT)
        state = self.states[symbol] = next_state(before, z, self.params)
        if state != before:
            self.aim(symbol, exposure(state, self.params))
            direction = Direction.BUY if exposure(state, self.params) > exposure(before, self.params) else Direction.SELL
            self.ctx.emit(symbol, direction, strength=min(1.0, abs(z) / self.params["stop_z"]), target_price=candle.close)

    def state(self) -> dict[str, Any]:
        return {**super().state(), "states": dict(self.states)}

    async def recover(self, recovery: Recovery) -> None:
        """The saved states (a stopped-out side cannot be seen in the position); a position
        held without one is LONG or SHORT, so the exit band still closes it."""
        await super().recover(recovery)
        saved = (recovery.saved or {}).get("states", {})
        self.states = {symbol: int(state) for symbol, state in saved.items()}
        for symbol in self.ctx.symbols:
            size = self.ctx.position(symbol)
            if size and self.states.get(symbol, FLAT) not in (LONG, SHORT):
                self.states[symbol] = LONG if size > 0 else SHORT
