"""The working (open) orders, with the totals the pre-trade gate asks for kept as they change.

Every order the gate checks asks how much is still to fill on its market and side, and which
markets hold a working order; walking every open order for that made a check's cost grow with
the orders resting. ``WorkingOrders`` keeps, per market, what is still to fill of the buys and
of the sells that can add to a position (reduce-only orders cannot, closed orders are gone),
updated by the one owner of order state (``core.orders.OrderManager``) after each change of an
order, so a check reads them in constant time. Each order's share is remembered as it was
counted, so an order changed in place is taken out by exactly what it had put in.

Built from a list (``of``) it answers the same for a backtest, a test or a preview that leaves
an order out; ``tests/core/test_working.py`` checks that after random sequences of orders,
fills, amendments and cancels the kept totals equal the walked ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from core.models import ZERO, Order, Side

Key = tuple[str, str]


class _Share(NamedTuple):
    """What one order adds to its market's totals: its market, its side's sign, what is left
    to fill, and whether it can add to a position (not reduce-only). A tuple: made at each
    change of every order, in a third of a frozen dataclass's time."""

    key: Key
    sign: int
    remaining: Decimal
    adds: bool

    @classmethod
    def of(cls, order: Order) -> _Share:
        return cls((order.venue, order.symbol), order.side.sign, order.remaining, not order.reduce_only)


@dataclass
class MarketOrders:
    """One market's working orders (first placed first) and the totals of those that can add."""

    orders: dict[str, Order] = field(default_factory=dict)
    buys: Decimal = ZERO
    sells: Decimal = ZERO
    adding: int = 0
    selling: int = 0  # the sells among ``orders`` (reduce-only too): the rest are buys

    def on_side(self, side: Side) -> Decimal:
        return self.buys if side.sign > 0 else self.sells

    def has_side(self, side: Side) -> bool:
        """Whether any of the orders is on ``side``: the self-trade check, which every order
        passes, looks at the other side's orders only when there are some."""
        return bool(self.selling) if side.sign < 0 else self.selling < len(self.orders)

    def tally(self, share: _Share, direction: int) -> None:
        if share.sign < 0:
            self.selling += direction
        if not share.adds:
            return
        self.adding += direction
        if share.sign > 0:
            self.buys = self.buys + share.remaining if direction > 0 else self.buys - share.remaining
        else:
            self.sells = self.sells + share.remaining if direction > 0 else self.sells - share.remaining
        if not self.adding:  # nothing counted: exactly zero, whatever was added and taken
            self.buys = self.sells = ZERO


class WorkingOrders:
    """The open orders by market, with their totals; see the module docstring."""

    def __init__(self) -> None:
        self._shares: dict[str, _Share] = {}
        self._markets: dict[Key, MarketOrders] = {}

    @classmethod
    def of(cls, orders: Iterable[Order], *, exclude: str | None = None) -> WorkingOrders:
        """Walked from ``orders`` (closed ones and ``exclude`` left out)."""
        working = cls()
        for order in orders:
            if order.client_order_id != exclude:
                working.update(order)
        return working

    def update(self, order: Order) -> None:
        """Count ``order`` as it is now: in if open, out if closed; call after every change."""
        coid = order.client_order_id
        old = self._shares.pop(coid, None)
        if old is not None:
            market = self._markets[old.key]
            market.tally(old, -1)
            if not order.is_open:
                del market.orders[coid]
                if not market.orders:
                    del self._markets[old.key]
                return
        elif not order.is_open:
            return
        share = _Share.of(order)
        counted = self._markets.get(share.key)
        if counted is None:  # made for a market without orders, not at each update
            counted = self._markets[share.key] = MarketOrders()
        counted.orders[coid] = order  # an order already there keeps its place
        counted.tally(share, 1)
        self._shares[coid] = share

    def discard(self, client_order_id: str) -> None:
        """Take an order out whatever its state (it was never written, so never worked)."""
        old = self._shares.pop(client_order_id, None)
        if old is None:
            return
        market = self._markets[old.key]
        market.tally(old, -1)
        del market.orders[client_order_id]
        if not market.orders:
            del self._markets[old.key]

    def without(self, client_order_id: str | None) -> WorkingOrders:
        """These orders but one (the order a modification replaces): walked, as it is rare."""
        if client_order_id is None or client_order_id not in self._shares:
            return self
        return WorkingOrders.of(self.orders(), exclude=client_order_id)

    def on_side(self, venue: str, symbol: str, side: Side) -> Decimal:
        """What is still to fill of the orders on the market and side that can add to a position."""
        market = self._markets.get((venue, symbol))
        return market.on_side(side) if market is not None else ZERO

    def market(self, venue: str, symbol: str) -> MarketOrders | None:
        return self._markets.get((venue, symbol))

    def markets(self) -> dict[Key, MarketOrders]:
        return self._markets

    def adding_markets(self) -> set[Key]:
        """The markets holding a working order that can add to a position."""
        return {key for key, market in self._markets.items() if market.adding}

    def orders(self) -> list[Order]:
        return [order for market in self._markets.values() for order in market.orders.values()]

    def __len__(self) -> int:
        return len(self._shares)
