"""Worst-case exposure per market: the position plus every working order on one side filling.

Buys and sells on the same market cannot both add to the position, so the worst case is the
larger of "all buys fill" and "all sells fill". Reduce-only orders never add and are left out,
and so are spot sells: spot cannot go short, a sell only turns holdings into cash. Where the
venue lends (``Portfolio.spot_shorts``: the backtester), a spot market is a perpetual's case.

For one order, the same worst case: the position after it and every working order on its side
fill (``projected_size``), and whether it can only shrink the position (``only_reduces``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.models import ZERO, Instrument, Order, OrderRequest, OrderType, Position, PositionSide
from core.portfolio import Portfolio
from core.working import MarketOrders, WorkingOrders

Key = tuple[str, str]


@dataclass(slots=True)
class _Market:
    position: Decimal = ZERO
    buys: Decimal = ZERO
    sells: Decimal = ZERO
    checked: bool = False  # the order checked is one of its orders
    working: MarketOrders | None = None  # its working orders, when some can add

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
    """Worst-case notional per (venue, symbol), in the portfolio's quote currency. A market is
    valued at its mark, else its position's entry price, else the price of ``extra`` (the order
    checked), else of its first working order that has one, else at 0."""
    markets: dict[Key, _Market] = {}
    for position in portfolio.positions():
        markets[(position.venue, position.symbol)] = _Market(position=position.signed_size)
    if extra is not None and not extra.reduce_only:
        key = (extra.venue, extra.symbol)
        market = markets.get(key)
        if market is None:
            market = markets[key] = _Market()
        market.add(extra.side.sign, extra.size)
        market.checked = True
    for key, orders in working.markets().items():
        if not orders.adding:
            continue
        market = markets.get(key)
        if market is None:
            market = markets[key] = _Market()
        market.buys += orders.buys
        market.sells += orders.sells
        market.working = orders
    result: dict[Key, Decimal] = {}
    for (venue, symbol), market in markets.items():
        mark = price = portfolio.mark(venue, symbol)
        if not price:  # the orders' prices are looked for only then
            held = portfolio.position(venue, symbol)
            price = ((held.entry_price if held is not None else None)
                     or _orders_price(market, mark, extra, extra_price) or ZERO)
        instrument = portfolio.instrument(venue, symbol)
        if instrument is None:
            size, contract_size, quote = market.worst_size(spot=False), Decimal(1), portfolio.quote_currency
        else:
            spot = not instrument.is_perpetual and not portfolio.spot_shorts
            size, contract_size, quote = market.worst_size(spot), instrument.contract_size, instrument.quote
        result[(venue, symbol)] = portfolio.to_quote(venue, size * price * contract_size, quote)
    return result


def _orders_price(
    market: _Market, mark: Decimal | None, extra: OrderRequest | None, extra_price: Decimal | None
) -> Decimal | None:
    """The price of a market without a mark: the order checked's, else its first working order's
    that can add and has one (a market or trailing order has none without a mark)."""
    price = None
    if market.checked and extra is not None:
        price = extra_price or order_price(extra, mark)
    if price is None and market.working is not None:
        prices = (order_price(o, mark) for o in market.working.orders.values() if not o.reduce_only)
        price = next((p for p in prices if p is not None), None)
    return price
