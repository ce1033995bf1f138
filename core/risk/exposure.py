"""Worst-case exposure per market: the position plus every working order on one side filling.

Buys and sells on the same market cannot both add to the position, so the worst case is the
larger of "all buys fill" and "all sells fill". Reduce-only orders never add and are left out,
and so are spot sells: spot cannot go short, a sell only turns holdings into cash.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from core.models import ZERO, Order, OrderRequest, OrderType
from core.portfolio import Portfolio

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


def projected_exposure(
    portfolio: Portfolio,
    open_orders: list[Order],
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
    for order in open_orders:
        if order.reduce_only or not order.is_open:
            continue
        market = markets[(order.venue, order.symbol)]
        market.add(order.side.sign, order.remaining)
        if market.order_price is None:
            market.order_price = order_price(order, portfolio.mark(order.venue, order.symbol))
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
            size, contract_size, quote = market.worst_size(not instrument.is_perpetual), instrument.contract_size, instrument.quote
        result[(venue, symbol)] = portfolio.to_quote(venue, size * price * contract_size, quote)
    return result
