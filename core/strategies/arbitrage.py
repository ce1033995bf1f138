"""Arbitrage: two legs that hedge each other, sent together and unwound if one fails.

* ``basis_arbitrage`` (cross-period, cash and carry): symbols are [spot, perpetual]. The edge
  is the perpetual's premium over spot plus the funding its short leg expects to receive over
  ``funding_periods`` payments at the current rate (the data service's reading live, the last
  paid rate in a backtest; none known counts as zero). When the edge beats the round-trip fees
  of both legs plus ``entry_bps``, buy spot and sell the perpetual in equal size; close both
  when it has fallen to ``exit_bps`` or less: a rate turning against the shorts closes the
  trade before the basis has converged, one paying them keeps it open past convergence. The
  funding actually paid is in the backtest's equity and its ``funding`` figure.
* ``pair_arbitrage`` (cross-symbol): symbols are [A, B], assumed cointegrated. The hedge
  ratio is the least-squares slope of log A on log B over ``lookback`` candles; the spread
  ``log A - beta * log B`` is traded on its z-score: sell A / buy B above ``entry_z``, the
  reverse below ``-entry_z``, out within ``exit_z`` or beyond ``stop_z``.

Both decide on candle closes, once every leg has closed a candle at the same time, and trade
at once with market orders. If a leg is refused, the legs that went through are closed again,
so the strategy is never left holding one unhedged leg.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from core.models import Direction, Order, Side
from core.strategies.base import CandleLike, Param, Strategy, as_decimal, floor_to_lot

if TYPE_CHECKING:
    from core.strategies.recovery import Recovery


class _TwoLegs(Strategy):
    """Shared by both: candle alignment across the two symbols and leg execution."""

    def __init__(self, params: Mapping[str, Any] | None = None, *, strategy_id: str | None = None) -> None:
        super().__init__(params, strategy_id=strategy_id)
        self._last: dict[str, CandleLike] = {}
        self.side = 0  # +1 long the first leg, -1 short it, 0 flat
        self.unwinds = 0

    async def on_start(self) -> None:
        if len(self.ctx.symbols) != 2:
            raise ValueError(f"{self.name} trades exactly two symbols, got {len(self.ctx.symbols)}: {', '.join(self.ctx.symbols)}")

    async def on_bar(self, symbol: str, candle: CandleLike) -> None:
        self._last[symbol] = candle
        legs = self.ctx.symbols
        if all(s in self._last and self._last[s].ts == candle.ts for s in legs):
            await self.decide(self._last[legs[0]].close, self._last[legs[1]].close)

    async def decide(self, first: float, second: float) -> None:
        raise NotImplementedError

    async def trade_legs(self, legs: list[tuple[str, Side, Decimal]]) -> bool:
        """Send all legs at once; if any is refused, close what the others opened."""
        before = {symbol: self.ctx.position(symbol) for symbol, _, _ in legs}
        results: list[Order | None] = await asyncio.gather(
            *(self.ctx.market(symbol, side, size) for symbol, side, size in legs)
        )
        if all(result is not None for result in results):
            return True
        self.unwinds += 1
        for symbol, _, _ in legs:
            change = self.ctx.position(symbol) - before[symbol]
            if change:
                await self.ctx.market(symbol, Side.SELL if change > 0 else Side.BUY, abs(change))
        return False

    async def close_legs(self) -> None:
        legs = [(s, Side.SELL if size > 0 else Side.BUY, abs(size)) for s in self.ctx.symbols if (size := self.ctx.position(s))]
        if legs and await self.trade_legs(legs):
            self.side = 0

    def leg_size(self, symbol: str, notional: Decimal, price: float) -> Decimal:
        return floor_to_lot(notional / as_decimal(price), self.ctx.instrument(symbol).lot_size)

    def state(self) -> dict[str, Any]:
        return {"side": self.side, "unwinds": self.unwinds}

    def snapshot(self) -> dict[str, Any]:
        return {"unwinds": self.unwinds}

    async def recover(self, recovery: Recovery) -> None:
        """The side is the first leg's position (the legs move together); the rest is saved."""
        self.unwinds = int((recovery.saved or {}).get("unwinds", 0))
        first = self.ctx.position(self.ctx.symbols[0]) if self.ctx.symbols else 0
        self.side = 1 if first > 0 else -1 if first < 0 else 0


class BasisArbitrage(_TwoLegs):
    name: ClassVar[str] = "basis_arbitrage"
    summary: ClassVar[str] = "spot vs perpetual basis: long spot, short perp when the basis pays"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("entry_bps", float, 20.0, low=0.0, high=1000.0, doc="basis above the round-trip fees to enter"),
        Param("exit_bps", float, 2.0, low=-100.0, high=500.0, doc="close both legs at or below this basis"),
        Param("position_size_pct", float, 0.4, low=0.01, high=0.5, doc="notional of each leg, share of equity"),
        Param("funding_periods", float, 3.0, low=0.0, high=90.0,
              doc="funding payments counted into the edge at the current rate (0: the basis alone)"),
    )

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]:
        if params["exit_bps"] >= params["entry_bps"]:
            return [f"exit_bps ({params['exit_bps']:g}) must be below entry_bps ({params['entry_bps']:g})"]
        return []

    @classmethod
    def short_symbols(cls, params: Mapping[str, Any], symbols: Sequence[str]) -> list[str]:
        return list(symbols[1:])  # the perpetual

    def fees_bps(self) -> float:
        """Both legs, in and out, at the taker fee."""
        spot, perp = (self.ctx.instrument(s) for s in self.ctx.symbols)
        return float(2 * (spot.taker_fee + perp.taker_fee)) * 10_000

    def carry_bps(self) -> float:
        """What the short perpetual expects to receive over ``funding_periods`` payments at the
        current rate (negative when shorts pay)."""
        rate = self.ctx.funding_rate(self.ctx.symbols[1])
        return (rate or 0.0) * 10_000 * float(self.params["funding_periods"])

    async def decide(self, spot: float, perp: float) -> None:
        edge_bps = (perp / spot - 1) * 10_000 + self.carry_bps()
        spot_symbol, perp_symbol = self.ctx.symbols
        if self.side == 0 and edge_bps > self.fees_bps() + self.params["entry_bps"]:
            size = min(
                self.leg_size(spot_symbol, self.ctx.equity() * as_decimal(self.params["position_size_pct"]), spot),
                self.leg_size(perp_symbol, self.ctx.equity() * as_decimal(self.params["position_size_pct"]), perp),
            )
            if size > 0 and await self.trade_legs([(spot_symbol, Side.BUY, size), (perp_symbol, Side.SELL, size)]):
                self.side = 1
                self.ctx.emit(perp_symbol, Direction.SELL, target_price=spot, strength=min(1.0, edge_bps / 100))
        elif self.side != 0 and edge_bps <= self.params["exit_bps"]:
            await self.close_legs()


class PairArbitrage(_TwoLegs):
    name: ClassVar[str] = "pair_arbitrage"
    summary: ClassVar[str] = "cointegrated pair: trade the hedged spread's z-score"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("lookback", int, 100, low=10, high=2000, doc="candles for the hedge ratio and the z-score"),
        Param("entry_z", float, 2.0, low=0.5, high=5.0),
        Param("exit_z", float, 0.5, low=0.0, high=3.0),
        Param("stop_z", float, 4.0, low=1.0, high=10.0),
        Param("position_size_pct", float, 0.4, low=0.01, high=0.5, doc="notional of the first leg, share of equity"),
    )

    def __init__(self, params: Mapping[str, Any] | None = None, *, strategy_id: str | None = None) -> None:
        super().__init__(params, strategy_id=strategy_id)
        self.beta = math.nan
        self.z = math.nan

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]:
        if not params["exit_z"] < params["entry_z"] < params["stop_z"]:
            return [f"the bands must nest: exit_z ({params['exit_z']:g}) < entry_z ({params['entry_z']:g}) < stop_z ({params['stop_z']:g})"]
        return []

    @classmethod
    def short_symbols(cls, params: Mapping[str, Any], symbols: Sequence[str]) -> list[str]:
        return list(symbols)

    def warmup(self) -> int:
        return int(self.params["lookback"])

    async def decide(self, first: float, second: float) -> None:
        a_symbol, b_symbol = self.ctx.symbols
        a, b = self.history(a_symbol), self.history(b_symbol)
        n = self.params["lookback"]
        if len(a) < n or len(b) < n:
            return
        log_a, log_b = np.log(a.close[-n:]), np.log(b.close[-n:])
        var = float(np.var(log_b))
        if var == 0:
            return
        self.beta = float(np.cov(log_a, log_b, ddof=0)[0, 1] / var)
        spread = log_a - self.beta * log_b
        std = float(spread.std())
        if std == 0:
            return
        self.z = float((spread[-1] - spread.mean()) / std)
        p, z = self.params, self.z
        if self.side != 0 and (abs(z) <= p["exit_z"] or abs(z) >= p["stop_z"] or z * self.side > 0):
            await self.close_legs()
        if self.side == 0 and p["entry_z"] <= abs(z) < p["stop_z"]:
            side = -1 if z > 0 else 1  # spread rich: sell A, buy B
            notional = self.ctx.equity() * as_decimal(p["position_size_pct"])
            size_a = self.leg_size(a_symbol, notional, first)
            size_b = self.leg_size(b_symbol, notional * as_decimal(abs(self.beta)), second)
            b_side = -side if self.beta > 0 else side
            if size_a > 0 and size_b > 0 and await self.trade_legs([
                (a_symbol, Side.BUY if side > 0 else Side.SELL, size_a),
                (b_symbol, Side.BUY if b_side > 0 else Side.SELL, size_b),
            ]):
                self.side = side
                self.ctx.emit(a_symbol, Direction.BUY if side > 0 else Direction.SELL, target_price=first,
                              strength=min(1.0, abs(z) / p["stop_z"]))

    def state(self) -> dict[str, Any]:
        return {**super().state(), "beta": self.beta, "z": self.z}
