"""Worst-case exposure per market: the position plus every working order on one side filling.

Buys and sells on the same market cannot both add to the position, so the worst case is the
larger of "all buys fill" and "all sells fill". Reduce-only orders never add and are left out,
and so are spot sells: spot cannot go short, a sell only turns holdings into cash. Where the
venue lends (``Portfolio.spot_shorts``: the backtester), a spot market is a perpetual's case.

For one order, the same worst case: the position after it and every working order on its side
fill (``projected_size``), and whether it can only shrink the position (``only_reduces``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from core.models import ZERO, Instrument, Order, OrderRequest, OrderType, Position, PositionSide
from core.portfolio import Portfolio
from core.working import WorkingOrders

Key = tuple[str, str]


@dataclass
class _Market:
    position: Decimal = ZERO
    buys: Decimal = ZERO
    sells: Decimal = ZERO
    order_price: Decimal | None = None

    def add(self, sign: int, size: Decimal) -> None:
        if sign > 0:
            self.buys += size
        else:
            self.sells += size

    def worst_size(self, spot: bool) -> Decimal:
        if spot:
            return self.position + self.buys
        return max(abs(self.position + self.buys), abs(self.position - self.sells))


def order_price(order: Order | OrderRequest, mark: Decimal | None) -> Decimal | None:
    """The price an order would trade at, as far as risk can tell."""
    if order.type in (OrderType.MARKET, OrderType.TRAILING_STOP):
        return mark
    if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        return order.price
    return order.trigger_price


def working_on_side(working: WorkingOrders, request: OrderRequest) -> Decimal:
    """What is still to fill of the working orders on the request's market and side that can
    add to a position (reduce-only orders cannot)."""
    return working.on_side(request.venue, request.symbol, request.side)


def projected_size(position: Position | None, request: OrderRequest, working: WorkingOrders) -> Decimal:
    """The position's size (unsigned) if this order and the working orders on its side all fill."""
    current = position.signed_size if position is not None else ZERO
    return abs(current + (request.size + working_on_side(working, request)) * request.side.sign)


def only_reduces(
    request: OrderRequest, instrument: Instrument, position: Position | None, working: WorkingOrders, *,
    spot_shorts: bool = False,
) -> bool:
    """Whether the order can only shrink exposure: reduce-only, a spot sell (spot cannot go
    short, so it sells what is held), or the opposite side of a position and, together with
    the working orders on that side, no larger than it (so a stack of small closing orders
    cannot open a position on the other side unchecked). With ``spot_shorts`` (the venue lends)
    a spot sell past the holdings opens a short, and is checked as a perpetual's would be."""
    if request.reduce_only or (not instrument.is_perpetual and not spot_shorts and request.side.sign < 0):
        return True
    if position is None or (position.side is PositionSide.LONG) != (request.side.sign < 0):
        return False
    return request.size + working_on_side(working, request) <= position.size


def projected_exposure(
    portfolio: Portfolio,
    working: WorkingOrders,
    extra: OrderRequest | None = None,
    extra_price: Decimal | None = None,
) -> dict[Key, Decimal]:
    """Worst-case notional per (venue, symbol), in the portfolio's quote currency."""
    markets: defaultdict[Key, _Market] = defaultdict(_Market)
    for position in portfolio.positions():
        markets[(position.venue, position.symbol)] = _Market(position=position.signed_size)
    if extra is not None and not extra.reduce_only:
        market = markets[(extra.venue, extra.symbol)]
        market.add(extra.side.sign, extra.size)
        market.order_price = extra_price or order_price(extra, portfolio.mark(extra.venue, extra.symbol))
    for key, orders in working.markets().items():
        if not orders.adding:
            continue
        market = markets[key]
        market.buys += orders.buys
        market.sells += orders.sells
        if market.order_price is None:
            mark = portfolio.mark(*key)
            prices = (order_price(o, mark) for o in orders.orders.values() if not o.reduce_only)
            market.order_price = next((p for p in prices if p is not None), None)
    result: dict[Key, Decimal] = {}
    for (venue, symbol), market in markets.items():
        held = portfolio.position(venue, symbol)
        price = (
            portfolio.mark(venue, symbol)
            or (held.entry_price if held is not None else None)
            or market.order_price
            or ZERO
        )
        instrument = portfolio.instrument(venue, symbol)
        if instrument is None:
            size, contract_size, quote = market.worst_size(spot=False), Decimal(1), portfolio.quote_currency
        else:
            spot = not instrument.is_perpetual and not portfolio.spot_shorts
            size, contract_size, quote = market.worst_size(spot), instrument.contract_size, instrument.quote
        result[(venue, symbol)] = portfolio.to_quote(venue, size * price * contract_size, quote)
    return result
