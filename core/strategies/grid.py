"""Grid trading: buy limits on levels under the price, each filled buy answered by a sell one
level up, each filled sell by a new buy where it started — profit from a market that ranges.

Levels run from ``lower`` to ``upper``, evenly spaced (arithmetic) or at a constant ratio
(geometric, the same percentage apart). When the price leaves the range: ``hold`` keeps the
orders, ``pause`` cancels them and rebuilds the grid when the price comes back (keeping the
inventory and its sells), ``close`` cancels everything, sells the inventory and stops.

The ladder (which order stands for which rung) and the inventory (which levels were bought)
are saved before the orders that change them are sent, so after a restart the grid knows every
order it may have sent: it re-adopts the working ones, settles the rungs that filled while it
was away, places only the rungs that are missing and cancels any order beyond one per rung.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from core.models import ZERO, Fill, Order, OrderRequest, OrderType, Side, Trade
from core.strategies.base import Param, Strategy, as_decimal, floor_to_lot

if TYPE_CHECKING:
    from core.strategies.recovery import Recovery

log = logging.getLogger(__name__)

Rung = tuple[int, int]  # (level, side: +1 buy, -1 sell)


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
        self.prices = self._levels()
        self.mode = "waiting"  # waiting | active | paused | closed
        self.holdings: set[int] = set()  # levels bought and waiting to be sold one level up
        self._orders: dict[str, Rung] = {}  # the ladder: client id -> rung
        self._filled: dict[str, Decimal] = {}
        self.round_trips = 0
        self._missing: list[Rung] = []  # found by recover, placed by on_start
        self._strays: list[str] = []  # working orders beyond one per rung, canceled by on_start

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]:
        if params["lower"] >= params["upper"]:
            return [f"lower ({params['lower']:g}) must be below upper ({params['upper']:g})"]
        return []

    def _levels(self) -> list[float]:
        p = self.params
        return grid_levels(p["lower"], p["upper"], p["levels"], p["spacing"])

    @property
    def symbol(self) -> str:
        return self.ctx.symbols[0]

    def _size(self) -> Decimal:
        return floor_to_lot(as_decimal(self.params["order_size"]), self.ctx.instrument(self.symbol).lot_size)

    async def on_start(self) -> None:
        if len(self.ctx.symbols) != 1:
            raise ValueError(f"a grid trades exactly one symbol, got {len(self.ctx.symbols)}: {', '.join(self.ctx.symbols)}")
        strays, self._strays = self._strays, []
        for client_id in strays:
            await self.ctx.cancel(client_id)
        missing, self._missing = self._missing, []
        if self.mode == "active":
            await self._place(missing)
        elif self.mode == "closed":
            await self._sell_inventory()  # a close the stop interrupted

    async def on_tick(self, trade: Trade) -> None:
        if self.mode == "closed":
            return
        price = float(trade.price)
        inside = self.prices[0] <= price <= self.prices[-1]
        if inside and self.mode in ("waiting", "paused"):
            await self._build(price)
        elif not inside and self.mode == "active":
            action = self.params["out_of_range"]
            if action == "pause":
                await self._withdraw("paused")
            elif action == "close":
                self.holdings.clear()
                await self._withdraw("closed")
                await self._sell_inventory()

    async def _build(self, price: float) -> None:
        self.mode = "active"
        rungs = []
        for level, level_price in enumerate(self.prices):
            if level in self.holdings:
                sell_at = next((k for k in range(level + 1, len(self.prices)) if self.prices[k] > price), len(self.prices) - 1)
                rungs.append((sell_at, -1))
            elif level_price < price and level + 1 < len(self.prices):
                rungs.append((level, 1))
        await self._place(rungs)

    async def _place(self, rungs: list[Rung]) -> None:
        """Add the rungs to the ladder and save it before sending: after a crash, every order
        the grid may have sent is one it knows."""
        instrument = self.ctx.instrument(self.symbol)
        size = self._size()
        requests = []
        for level, side in rungs:
            request = OrderRequest(
                venue=self.ctx.venue, symbol=self.symbol, side=Side.BUY if side > 0 else Side.SELL, type=OrderType.LIMIT,
                size=size, price=instrument.round_price(as_decimal(self.prices[level])), strategy_id=self.strategy_id,
            )
            self._orders[request.client_order_id] = (level, side)
            requests.append(request)
        await self.ctx.save_state()
        for request in requests:
            if await self.ctx.submit(request) is None:
                self._orders.pop(request.client_order_id, None)

    async def _withdraw(self, mode: str) -> None:
        """Leave the range: the emptied ladder is saved before the cancels, so a restart does
        not put the orders back."""
        working = list(self._orders)
        self._orders.clear()
        self._filled.clear()
        self.mode = mode
        await self.ctx.save_state()
        for client_id in working:
            await self.ctx.cancel(client_id)

    async def _sell_inventory(self) -> None:
        size = self.ctx.position(self.symbol)
        if size:
            await self.ctx.market(self.symbol, Side.SELL if size > 0 else Side.BUY, abs(size))

    async def on_fill(self, fill: Fill) -> None:
        placed = self._orders.get(fill.client_order_id)
        if placed is None:
            return
        filled = self._filled[fill.client_order_id] = self._filled.get(fill.client_order_id, ZERO) + fill.size
        if filled < self._size():
            return
        del self._orders[fill.client_order_id], self._filled[fill.client_order_id]
        await self._place([self._settle(placed)])

    def _settle(self, rung: Rung) -> Rung:
        """A rung filled: the inventory changes and the rung that answers it is returned."""
        level, side = rung
        if side > 0:
            self.holdings.add(level)
            return min(level + 1, len(self.prices) - 1), -1
        bought = max((k for k in self.holdings if k < level), default=None)
        if bought is not None:
            self.holdings.discard(bought)
            self.round_trips += 1
        return (level - 1 if bought is None else bought), 1

    def state(self) -> dict[str, Any]:
        return {"mode": self.mode, "open_orders": len(self._orders), "holdings": sorted(self.holdings),
                "round_trips": self.round_trips}

    # ----- restarts -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        p = self.params
        return {
            "grid": [p["lower"], p["upper"], p["levels"], p["spacing"]], "mode": self.mode,
            "holdings": sorted(self.holdings), "round_trips": self.round_trips,
            "ladder": {client_id: list(rung) for client_id, rung in self._orders.items()},
        }

    async def recover(self, recovery: Recovery) -> None:
        """The ladder the grid meant to have (saved), each rung's order re-adopted if working,
        settled if it filled meanwhile, else to be placed; without a saved state, the working
        orders at grid prices become the ladder. Orders beyond one per rung are canceled."""
        self.prices = self._levels()  # the parameters in force: a stored version may differ from the file
        self._orders, self._filled, self._missing, self._strays = {}, {}, [], []
        filled = recovery.filled()
        if recovery.saved is None:
            self.mode, self.round_trips = "waiting", 0
            wanted = self._rungs_of(recovery.working)
            self.holdings = {level - 1 for level, side in wanted if side < 0 and level > 0}
            if wanted:
                self.mode = "active"
        else:
            wanted = self._restore(recovery.saved, filled)
        ours = set((recovery.saved or {}).get("ladder", {}))
        for order in sorted(recovery.working, key=lambda o: o.client_order_id not in ours):
            rung = self._rung(order)
            if rung in wanted and self.mode == "active":
                wanted.remove(rung)
                self._orders[order.client_order_id] = rung
                self._filled[order.client_order_id] = filled.get(order.client_order_id, ZERO)
            else:
                self._strays.append(order.client_order_id)
        self._missing = wanted if self.mode == "active" else []

    def _restore(self, saved: Mapping[str, Any], filled: Mapping[str, Decimal]) -> list[Rung]:
        """State from the snapshot; returns the rungs the ladder should have."""
        self.mode, self.round_trips = str(saved["mode"]), int(saved["round_trips"])
        before = grid_levels(*saved["grid"])
        if before != self.prices:
            log.warning("grid %s: levels changed since the last run: the ladder is rebuilt", self.strategy_id)
            self.holdings = self._moved(before, saved["holdings"])
            if self.mode == "active":
                self.mode = "waiting"
            return []
        self.holdings = {int(level) for level in saved["holdings"]}
        size = self._size()
        wanted = []
        for client_id, (level, side) in saved["ladder"].items():
            rung = (int(level), int(side))
            wanted.append(self._settle(rung) if filled.get(client_id, ZERO) >= size else rung)
        return wanted

    def _moved(self, before: list[float], holdings: list[int]) -> set[int]:
        """Levels bought under other levels, each moved to the highest new level at or below
        its price, so its sale stays above what it cost."""
        moved: set[int] = set()
        for level in sorted(holdings, reverse=True):
            below = [k for k in range(len(self.prices) - 1) if self.prices[k] <= before[level] and k not in moved]
            if below:
                moved.add(below[-1])
            else:
                log.warning("grid %s: the level bought at %g is below the new grid: its inventory is left as it is",
                            self.strategy_id, before[level])
        return moved

    def _rung(self, order: Order) -> Rung | None:
        """The rung an order stands for, or None when it is no order of this grid's ladder."""
        if order.symbol != self.symbol or order.price is None or order.size != self._size():
            return None
        instrument = self.ctx.instrument(self.symbol)
        for level, price in enumerate(self.prices):
            if instrument.round_price(as_decimal(price)) == order.price:
                return level, order.side.sign
        return None

    def _rungs_of(self, orders: tuple[Order, ...]) -> list[Rung]:
        rungs = []
        for order in orders:
            rung = self._rung(order)
            if rung is not None and rung not in rungs:
                rungs.append(rung)
        return rungs
