"""The simulated account: balances per asset, funds held for open orders, and positions.

Spot buys debit the quote currency (``price * size * contract_size`` and the fee) and credit
the base (``size``); sells the reverse. Perpetuals are linear positions with isolated margin in
the quote (settle) currency: a position keeps its initial margin (``core.ledger``) in ``used``,
so a fill moves the difference between the margin before and after it, then credits the PnL it
realized and pays its fee. A margin account (the event backtester's, like backtesting.py's:
cash in the quote currency, shorts allowed) books every market that way, at 1x.

An open order holds (``used``) what it may spend; each fill draws on that hold first and on free
funds only if a price moved past the estimate (a triggered stop, for example).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from core.ledger import Book
from core.models import ZERO, Balance, Instrument


@dataclass(slots=True)
class Hold:
    """Funds an open order keeps aside. ``amount`` shrinks as fills draw on it."""

    asset: str
    amount: Decimal = ZERO


class Account:
    def __init__(self, balances: Mapping[str, tuple[Decimal, Decimal]] | None = None, *, margin: bool = False) -> None:
        self.free: dict[str, Decimal] = {}
        self.used: dict[str, Decimal] = {}
        for asset, (free, used) in (balances or {}).items():
            self.free[asset] = free
            self.used[asset] = used
        self.margin = margin
        self.books: dict[str, Book] = {}

    def balances(self) -> list[Balance]:
        return [Balance(asset=asset, free=free, used=used) for asset, (free, used) in self.amounts().items()]

    def amounts(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(free, used) of every asset ever held, by asset in order; an exhausted amount reads 0
        rather than 0E-10. The paper venue saves them with every change: no models to build."""
        return {a: (self.free.get(a, ZERO) or ZERO, self.used.get(a, ZERO) or ZERO)
                for a in sorted(set(self.free) | set(self.used))}

    def total(self, asset: str) -> Decimal:
        return self.free.get(asset, ZERO) + self.used.get(asset, ZERO)

    def on_margin(self, instrument: Instrument) -> bool:
        """Whether a market is booked as a linear position with margin (see the module doc)."""
        return self.margin or instrument.is_perpetual

    def book(self, instrument: Instrument) -> Book:
        found = self.books.get(instrument.symbol)
        if found is None:
            found = self.books[instrument.symbol] = Book(instrument.contract_size, can_short=self.on_margin(instrument))
        return found

    def position(self, symbol: str) -> Book | None:
        """The open position in ``symbol``, if any."""
        found = self.books.get(symbol)
        return found if found is not None and found.size else None

    def hold(self, asset: str, amount: Decimal) -> str | None:
        """Set aside ``amount`` for an order, or say why it cannot be."""
        free = self.free.get(asset, ZERO)
        if amount > free:
            return f"insufficient {asset} balance: the order needs {amount.normalize():f}, {free.normalize():f} is free"
        self.free[asset] = free - amount
        self.used[asset] = self.used.get(asset, ZERO) + amount
        return None

    def release(self, hold: Hold) -> None:
        if hold.amount:
            self.used[hold.asset] -= hold.amount
            self.free[hold.asset] = self.free.get(hold.asset, ZERO) + hold.amount
            hold.amount = ZERO

    def fill(
        self, instrument: Instrument, hold: Hold, side: int, price: Decimal, size: Decimal, fee: Decimal,
        leverage: int, ts: int,
    ) -> Decimal:
        """Book one fill of an order (``side`` +1 buys, -1 sells; fee in the quote currency);
        returns the PnL it realized. ``leverage`` is the order's: a position it opens takes it."""
        book = self.book(instrument)
        signed = size if side > 0 else -size
        quote = instrument.quote
        if not self.on_margin(instrument):
            notional = price * size * instrument.contract_size
            if side > 0:
                self._draw(hold, quote, notional + fee, keep_used=False)
                self._credit(instrument.base, size)
            else:
                self._draw(hold, instrument.base, size, keep_used=False)
                self._credit(quote, notional - fee)
            return book.fill(signed, price, fee, ts)
        before = book.margin()
        realized = book.fill(signed, price, fee, ts, leverage)
        change = book.margin() - before
        if change > 0:
            self._draw(hold, quote, change, keep_used=True)
        elif change < 0:
            self.used[quote] += change
            self._credit(quote, -change)
        self._credit(quote, realized)
        self._draw(hold, quote, fee, keep_used=False)
        return realized

    def pay_funding(self, instrument: Instrument, rate: Decimal, mark: Decimal, ts: int) -> Decimal:
        """Funding on the open position at ``rate`` and ``mark``; returns what it received."""
        received = self.books[instrument.symbol].pay_funding(rate, mark, ts)
        self._credit(instrument.quote, received)
        return received

    def liquidate(self, instrument: Instrument, ts: int) -> Decimal:
        """Close the position at its liquidation price; its whole margin is lost (returned)."""
        loss = self.books[instrument.symbol].liquidate(ts)
        self.used[instrument.quote] -= loss
        return loss

    def _draw(self, hold: Hold, asset: str, amount: Decimal, *, keep_used: bool) -> None:
        """Take ``amount`` of ``asset`` for a fill, from the order's hold first. ``keep_used``
        leaves it in ``used`` (it becomes position margin) instead of spending it."""
        from_hold = min(amount, hold.amount) if hold.asset == asset else ZERO
        hold.amount -= from_hold
        rest = amount - from_hold
        self.free[asset] = self.free.get(asset, ZERO) - rest
        self.used[asset] = self.used.get(asset, ZERO) + (rest if keep_used else -from_hold)

    def _credit(self, asset: str, amount: Decimal) -> None:
        self.free[asset] = self.free.get(asset, ZERO) + amount
