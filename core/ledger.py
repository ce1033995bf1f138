"""The ledger: the one arithmetic by which fills become positions, P&L, fees, funding, margin
and liquidation.

Everything that keeps a position uses it: the portfolio (the engine's account), each strategy's
books, the surveillance's runaway-loss window, the performance reports, and the simulated
exchange (``core.sim``) behind the paper venue, the ccxt paper mode and the event backtester.
So a fee, margin or funding rule is changed here, once, and they cannot drift apart.

Positions are at average cost (not FIFO), signed, in contracts. A market's money is its quote
currency, and a contract is worth ``contract_size`` units of the base: a fill of ``size`` at
``price`` moves ``price * size * contract_size``. A fill against the position realizes
``(price - entry) * closed * contract_size`` (the opposite sign for a short); a fill through zero
closes the position and opens the rest at the fill price, with a new opening time and the
order's leverage. A book that cannot go short (a spot holding) stops at zero. Everything is
``Decimal``: the average entry price is exact to Decimal's 28 digits, never rounded to a tick.

Fees, funding and realized PnL are kept apart: ``realized`` is the PnL of closed size before
fees; ``funding`` is what the position received (negative: paid). A venue's position reports
``realized + funding`` as its realized PnL.

Perpetual margin and liquidation (isolated margin, linear contract): the initial margin is
``entry * size * contract_size / leverage``, and the position is liquidated when its margin
plus unrealized PnL falls to the maintenance margin ``mmr * mark * size * contract_size``:

    long:  P = entry * (1 - 1/leverage) / (1 - mmr)
    short: P = entry * (1 + 1/leverage) / (1 + mmr)

A 1x long has no liquidation price (it would be at or below zero). The price is exact, not
rounded to the tick: the order ticket's preview, the portfolio and the simulated exchange show
and act on the same number. A liquidation loses the position's whole isolated margin.

Funding at ``rate`` is ``rate * mark * size * contract_size``: with a positive rate longs pay
and shorts receive.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.models import ZERO, Fill, Position, PositionSide

ONE = Decimal(1)
MAINTENANCE_MARGIN_RATE = Decimal("0.005")

Key = tuple[str, str]
ContractSize = Callable[[str, str], Decimal]  # (venue, symbol) -> what one contract is worth


def average_cost(
    size: Decimal, entry: Decimal, signed: Decimal, price: Decimal, contract_size: Decimal, *, can_short: bool = True
) -> tuple[Decimal, Decimal, Decimal]:
    """A position of signed ``size`` at ``entry`` after a fill of ``signed`` contracts at
    ``price``: (new size, new entry, PnL realized). Flat has entry 0."""
    if size == 0 or (size > 0) == (signed > 0):
        if size == 0 and signed < 0 and not can_short:
            return ZERO, ZERO, ZERO
        new = size + signed
        if new == 0:
            return ZERO, ZERO, ZERO
        return new, (abs(size) * entry + abs(signed) * price) / abs(new), ZERO
    closing = min(abs(signed), abs(size))
    realized = (price - entry) * closing * contract_size
    if size < 0:
        realized = -realized
    new = size + signed
    if new == 0 or (not can_short and new < 0):
        return ZERO, ZERO, realized
    return new, (entry if (new > 0) == (size > 0) else price), realized


def perpetual_margin(
    long: bool, entry: Decimal, size: Decimal, contract_size: Decimal, leverage: int,
    mmr: Decimal = MAINTENANCE_MARGIN_RATE,
) -> tuple[Decimal, Decimal | None]:
    """Initial margin and liquidation price (None at or below zero) of an isolated linear
    perpetual position; the formulas are in the module doc."""
    lev = Decimal(leverage)
    margin = entry * size * contract_size / lev
    if long:
        price = entry * (ONE - ONE / lev) / (ONE - mmr)
    else:
        price = entry * (ONE + ONE / lev) / (ONE + mmr)
    return margin, (price if price > 0 else None)


class Book:
    """One position in one market, kept from its fills (module doc). Plain slots, no pydantic:
    the simulated exchange updates it on every fill of a backtest."""

    __slots__ = ("contract_size", "can_short", "size", "entry", "realized", "fees", "funding", "leverage",
                 "created_ts", "updated_ts")

    def __init__(self, contract_size: Decimal = ONE, *, can_short: bool = True, leverage: int = 1) -> None:
        self.contract_size = contract_size
        self.can_short = can_short
        self.size = ZERO  # signed, in contracts
        self.entry = ZERO
        self.realized = ZERO
        self.fees = ZERO
        self.funding = ZERO
        self.leverage = leverage
        self.created_ts = 0
        self.updated_ts = 0

    def fill(self, signed: Decimal, price: Decimal, fee: Decimal = ZERO, ts: int = 0,
             leverage: int | None = None) -> Decimal:
        """Book a fill of ``signed`` contracts (positive: bought) and its fee; returns the PnL
        it realized. A position it opens (from flat or through zero) takes ``leverage``."""
        old = self.size
        self.size, self.entry, realized = average_cost(old, self.entry, signed, price, self.contract_size,
                                                       can_short=self.can_short)
        self.realized += realized
        self.fees += fee
        self.updated_ts = ts
        if self.size and (old == 0 or (old > 0) != (self.size > 0)):
            self.created_ts = ts
            if leverage is not None:
                self.leverage = leverage
        return realized

    def pay_funding(self, rate: Decimal, mark: Decimal, ts: int = 0) -> Decimal:
        """Funding at ``rate`` on the position's notional at ``mark``; returns what it received
        (negative: paid)."""
        received = -rate * mark * self.size * self.contract_size
        self.funding += received
        self.updated_ts = ts
        return received

    def liquidate(self, ts: int = 0) -> Decimal:
        """Close the position at its liquidation price: it loses its whole margin (returned)."""
        loss = self.margin()
        self.realized -= loss
        self.size = self.entry = ZERO
        self.updated_ts = ts
        return loss

    @property
    def long(self) -> bool:
        return self.size > 0

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if mark is None or not self.size:
            return ZERO
        return (mark - self.entry) * self.size * self.contract_size

    def notional(self, price: Decimal) -> Decimal:
        return abs(self.size) * price * self.contract_size

    def margin(self) -> Decimal:
        """Initial margin of the position as a perpetual (its cost at 1x)."""
        return self.entry * abs(self.size) * self.contract_size / self.leverage

    def liquidation_price(self, mmr: Decimal = MAINTENANCE_MARGIN_RATE) -> Decimal | None:
        if not self.size:
            return None
        return perpetual_margin(self.size > 0, self.entry, abs(self.size), self.contract_size, self.leverage, mmr)[1]

    def to_position(self, venue: str, symbol: str, mark: Decimal | None, *, perpetual: bool,
                    mmr: Decimal = MAINTENANCE_MARGIN_RATE) -> Position:
        """The position as the port reports it (realized PnL includes funding)."""
        return Position(
            venue=venue, symbol=symbol, side=PositionSide.LONG if self.size >= 0 else PositionSide.SHORT,
            size=abs(self.size), entry_price=self.entry, leverage=self.leverage if perpetual else 1,
            margin=self.margin() if perpetual else self.entry * abs(self.size) * self.contract_size,
            mark_price=mark, unrealized_pnl=self.unrealized(mark), realized_pnl=self.realized + self.funding,
            liquidation_price=self.liquidation_price(mmr) if perpetual else None,
            created_ts=self.created_ts, updated_ts=self.updated_ts,
        )


class Ledger:
    """Books by (venue, symbol) from a stream of fills: what a strategy, the surveillance and
    the reports keep. ``contract_size`` says what a contract of a market is worth."""

    def __init__(self, contract_size: ContractSize | None = None) -> None:
        self._contract_size = contract_size
        self.books: dict[Key, Book] = {}

    def book(self, venue: str, symbol: str) -> Book:
        found = self.books.get((venue, symbol))
        if found is None:
            size = self._contract_size(venue, symbol) if self._contract_size is not None else ONE
            found = self.books[(venue, symbol)] = Book(size)
        return found

    def apply(self, fill: Fill) -> Decimal:
        """Book one fill; returns the PnL it realized (before its fee)."""
        return self.book(fill.venue, fill.symbol).fill(fill.size * fill.side.sign, fill.price, fill.fee, fill.ts)
