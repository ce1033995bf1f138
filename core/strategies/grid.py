"""Grid trading: buy limits on levels under the price, each filled buy answered by a sell one
level up, each filled sell by a new buy where it started — profit from a market that ranges.

Levels run from ``lower`` to ``upper``, evenly spaced (arithmetic) or at a constant ratio
(geometric, the same percentage apart). When the price leaves the range: ``hold`` keeps the
orders, ``pause`` cancels them and rebuilds the grid when the price comes back (keeping the
inventory and its sells), ``close`` cancels everything, sells the inventory and stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from core.models import Fill, OrderRequest, OrderType, Side, Trade
from core.strategies.base import Param, Strategy, as_decimal, floor_to_lot


def grid_levels(lower: float, upper: float, levels: int, spacing: str) -> list[float]:
    steps = levels - 1
    if spacing == "geometric":
        return [lower * (upper / lower) ** (k / steps) for k in range(levels)]
    return [lower + (upper - lower) * k / steps for k in range(levels)]


class Grid(Strategy):
    name: ClassVar[str] = "grid"
    summary: ClassVar[str] = "limit-order grid over a price range"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("lower", float, 20_000.0, low=1e-9, high=1e9, doc="lowest grid price", tunable=False),
        Param("upper", float, 30_000.0, low=1e-9, high=1e9, doc="highest grid price", tunable=False),
        Param("levels", int, 11, low=2, high=500, doc="number of price levels"),
        Param("spacing", str, "arithmetic", choices=("arithmetic", "geometric")),
        Param("order_size", float, 0.001, low=1e-9, high=1e9, doc="base units bought or sold per level", tunable=False),
        Param("out_of_range", str, "pause", choices=("hold", "pause", "close")),
    )

    def __init__(self, params: Mapping[str, Any] | None = None, *, strategy_id: str | None = None) -> None:
        super().__init__(params, strategy_id=strategy_id)
        p = self.params
        self.prices = grid_levels(p["lower"], p["upper"], p["levels"], p["spacing"])
        self.mode = "waiting"  # waiting | active | paused | closed
        self.holdings: set[int] = set()  # levels bought and waiting to be sold one level up
        self._orders: dict[str, tuple[int, int]] = {}  # client id -> (level, side)
        self._filled: dict[str, Decimal] = {}
        self.round_trips = 0

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]:
        if params["lower"] >= params["upper"]:
            return [f"lower ({params['lower']:g}) must be below upper ({params['upper']:g})"]
        return []

    async def on_tick(self, trade: Trade) -> None:
        if self.mode == "closed":
            return
        price = float(trade.price)
        inside = self.prices[0] <= price <= self.prices[-1]
        if inside and self.mode in ("waiting", "paused"):
            await self._build(trade.symbol, price)
        elif not inside and self.mode == "active":
            action = self.params["out_of_range"]
            if action == "pause":
                await self._cancel_all()
                self.mode = "paused"
            elif action == "close":
                await self._cancel_all()
                self.mode = "closed"
                size = self.ctx.position(trade.symbol)
                if size:
                    await self.ctx.market(trade.symbol, Side.SELL if size > 0 else Side.BUY, abs(size))
                self.holdings.clear()

    async def _build(self, symbol: str, price: float) -> None:
        self.mode = "active"
        for level, level_price in enumerate(self.prices):
            if level in self.holdings:
                sell_at = next((k for k in range(level + 1, len(self.prices)) if self.prices[k] > price), len(self.prices) - 1)
                await self._limit(symbol, sell_at, Side.SELL)
            elif level_price < price and level + 1 < len(self.prices):
                await self._limit(symbol, level, Side.BUY)

    async def _limit(self, symbol: str, level: int, side: Side) -> None:
        instrument = self.ctx.instrument(symbol)
        size = floor_to_lot(as_decimal(self.params["order_size"]), instrument.lot_size)
        request = OrderRequest(
            venue=self.ctx.venue, symbol=symbol, side=side, type=OrderType.LIMIT, size=size,
            price=instrument.round_price(as_decimal(self.prices[level])), strategy_id=self.strategy_id,
        )
        self._orders[request.client_order_id] = (level, side.sign)
        if await self.ctx.submit(request) is None:
            self._orders.pop(request.client_order_id, None)

    async def _cancel_all(self) -> None:
        for client_id in list(self._orders):
            await self.ctx.cancel(client_id)
        self._orders.clear()
        self._filled.clear()

    async def on_fill(self, fill: Fill) -> None:
        placed = self._orders.get(fill.client_order_id)
        if placed is None:
            return
        filled = self._filled[fill.client_order_id] = self._filled.get(fill.client_order_id, Decimal(0)) + fill.size
        instrument = self.ctx.instrument(fill.symbol)
        if filled < floor_to_lot(as_decimal(self.params["order_size"]), instrument.lot_size):
            return
        del self._orders[fill.client_order_id], self._filled[fill.client_order_id]
        level, side = placed
        if side > 0:
            self.holdings.add(level)
            await self._limit(fill.symbol, min(level + 1, len(self.prices) - 1), Side.SELL)
        else:
            bought = max((k for k in self.holdings if k < level), default=None)
            if bought is not None:
                self.holdings.discard(bought)
                self.round_trips += 1
            await self._limit(fill.symbol, level - 1 if bought is None else bought, Side.BUY)

    def state(self) -> dict[str, Any]:
        return {"mode": self.mode, "open_orders": len(self._orders), "holdings": sorted(self.holdings),
                "round_trips": self.round_trips}
