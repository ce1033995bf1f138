"""Trend following on the agents' signals (the first design document's ai_trend_following).

A BUY or SELL signal at or above ``confidence_threshold`` (and ``min_strength``) sets the
position in that direction, at the next price, to ``position_size_pct`` of the strategy's equity
times the signal's strength, never more than the share of the account the risk agent allows
(its Kelly, volatility-target, correlation and exposure caps, carried by the signal as
``size_fraction``). The order still passes the engine's risk checks; the sizing is logged.
The stop-loss and take-profit come from the signal when it has them, else from the configured
percentages around the entry; the strategy watches every price and closes when one is touched.
HOLD signals and weak or unsure ones leave the position as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from core.models import Direction, Signal, Trade
from core.strategies.base import Param, Strategy, as_decimal

if TYPE_CHECKING:
    from core.strategies.recovery import Recovery

log = logging.getLogger(__name__)


@dataclass
class _Plan:
    side: int  # +1 long, -1 short, 0 flat
    stop_loss: float | None
    take_profit: float | None
    size: float = 0.0  # share of the strategy's equity
    sizing: str = ""  # how the size was reached, for the log and the Strategies screen


class AiTrendFollowing(Strategy):
    name: ClassVar[str] = "ai_trend_following"
    summary: ClassVar[str] = "act on confident agent signals, with stop-loss and take-profit"
    needs_signals: ClassVar[bool] = True
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("confidence_threshold", float, 0.7, low=0.0, high=1.0, doc="ignore signals less confident"),
        Param("position_size_pct", float, 0.1, low=0.001, high=1.0, doc="share of equity per position"),
        Param("min_strength", float, 0.0, low=0.0, high=1.0, doc="ignore weaker signals"),
        Param("stop_loss_pct", float, 0.02, low=0.001, high=0.5, doc="stop distance when the signal has none"),
        Param("take_profit_pct", float, 0.06, low=0.001, high=5.0, doc="target distance when the signal has none"),
        Param("allow_short", bool, True, doc="SELL signals open shorts (else they only close longs)"),
    )

    def __init__(self, params: Mapping[str, Any] | None = None, *, strategy_id: str | None = None) -> None:
        super().__init__(params, strategy_id=strategy_id)
        self._pending: dict[str, _Plan] = {}
        self.plans: dict[str, _Plan] = {}
        self.skipped = 0

    async def on_signal(self, signal: Signal) -> None:
        p = self.params
        if signal.direction is Direction.HOLD:
            return
        if signal.confidence < p["confidence_threshold"] or signal.strength < p["min_strength"]:
            self.skipped += 1
            return
        side = 1 if signal.direction is Direction.BUY else (-1 if p["allow_short"] else 0)
        size, sizing = self.size_for(signal)
        self._pending[signal.instrument_id] = _Plan(side, signal.stop_loss, signal.take_profit, size, sizing)

    def size_for(self, signal: Signal) -> tuple[float, str]:
        """(share of this strategy's equity, how it was reached): ``position_size_pct`` scaled by
        the signal's strength, capped by the risk agent's share of the account, which is a
        larger share of this strategy's smaller equity (divided by its allocation)."""
        wanted = self.params["position_size_pct"] * signal.strength
        sizing = f"{self.params['position_size_pct']:.1%} x strength {signal.strength:.2f} = {wanted:.2%}"
        if signal.size_fraction is None:
            return wanted, sizing + " (the signal carries no risk size)"
        allowed = min(1.0, signal.size_fraction / self.ctx.allocation_pct)
        if allowed < wanted:
            return allowed, (f"{sizing}, capped at {allowed:.2%} by the risk agent's {signal.size_fraction:.2%} "
                             f"of the account ({self.ctx.allocation_pct:.0%} allocated)")
        return wanted, f"{sizing} (the risk agent allows {allowed:.2%})"

    async def on_tick(self, trade: Trade) -> None:
        symbol, price = trade.symbol, trade.price
        plan = self._pending.pop(symbol, None)
        if plan is not None:
            await self._enter(symbol, plan, price)
            return
        current = self.plans.get(symbol)
        if current is None or current.side == 0:
            return
        level = float(price)
        lost = current.stop_loss is not None and (level - current.stop_loss) * current.side <= 0
        won = current.take_profit is not None and (level - current.take_profit) * current.side >= 0
        if lost or won:
            self.plans[symbol] = _Plan(0, None, None)
            await self.ctx.target_exposure(symbol, 0.0, price)

    async def _enter(self, symbol: str, plan: _Plan, price: Decimal) -> None:
        p, level = self.params, float(price)
        if plan.side:
            # a level on the wrong side of the entry (the price moved past it) falls back to the config
            if plan.stop_loss is None or (level - plan.stop_loss) * plan.side <= 0:
                plan.stop_loss = level * (1 - plan.side * p["stop_loss_pct"])
            if plan.take_profit is None or (plan.take_profit - level) * plan.side <= 0:
                plan.take_profit = level * (1 + plan.side * p["take_profit_pct"])
        self.plans[symbol] = plan
        if plan.side:
            log.info("%s: %s %s at %s sized %s of its equity: %s", self.strategy_id,
                     "long" if plan.side > 0 else "short", symbol, price, f"{plan.size:.2%}", plan.sizing)
        await self.ctx.target_exposure(symbol, plan.side * plan.size, as_decimal(price))

    def state(self) -> dict[str, Any]:
        return {
            "skipped_signals": self.skipped,
            "plans": {s: {"side": pl.side, "stop_loss": pl.stop_loss, "take_profit": pl.take_profit,
                          "size": round(pl.size, 6), "sizing": pl.sizing} for s, pl in self.plans.items()},
        }

    @classmethod
    def short_symbols(cls, params: Mapping[str, Any], symbols: Sequence[str]) -> list[str]:
        return list(symbols) if params["allow_short"] else []

    def snapshot(self) -> dict[str, Any]:
        return {**self.state(), "pending": {s: asdict(plan) for s, plan in self._pending.items()}}

    async def recover(self, recovery: Recovery) -> None:
        """Plans as saved; a position held without a plan gets the configured stop-loss and
        take-profit around its entry, so it is never left unwatched."""
        saved = recovery.saved or {}
        self.skipped = int(saved.get("skipped_signals", 0))
        self.plans = {s: _Plan(**plan) for s, plan in saved.get("plans", {}).items()}
        self._pending = {s: _Plan(**plan) for s, plan in saved.get("pending", {}).items()}
        p = self.params
        for symbol in self.ctx.symbols:
            size = self.ctx.position(symbol)
            side = 1 if size > 0 else -1 if size < 0 else 0
            plan = self.plans.get(symbol)
            if side and (plan is None or plan.side != side):
                entry = float(self.ctx.book(symbol).entry)
                self.plans[symbol] = _Plan(side, entry * (1 - side * p["stop_loss_pct"]), entry * (1 + side * p["take_profit_pct"]))
