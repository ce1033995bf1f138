"""The paper account: balances per asset, funds held for open orders, perpetual positions.

Spot buys debit the quote currency and credit the base; sells the reverse; fees are paid in
the quote currency. Linear perpetuals use isolated margin in the quote (settle) currency: the
opening part of a fill locks ``price * size / leverage`` as the position's margin, the closing
part releases its share of the margin plus the realized PnL.

An open order holds (``used``) what it may spend; each fill draws on that hold first and on
free funds only if a price moved past the estimate (a triggered stop, for example). The
liquidation price is ``core.portfolio.perpetual_margin``'s, rounded to the tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.models import ZERO, Balance, Instrument, Position, PositionSide
from core.portfolio import MAINTENANCE_MARGIN_RATE, perpetual_margin


@dataclass
class Hold:
    """Funds an open order keeps aside. ``amount`` shrinks as fills draw on it."""

    asset: str
    amount: Decimal = ZERO


@dataclass
class PerpPosition:
    symbol: str
    side: int  # 1 long, -1 short
    size: Decimal
    entry_price: Decimal
    leverage: int
    margin: Decimal
    realized_pnl: Decimal = ZERO
    created_ts: int = 0
    updated_ts: int = 0

    def liquidation_price(self, instrument: Instrument) -> Decimal | None:
        _, price = perpetual_margin(self.side > 0, self.entry_price, self.size, instrument.contract_size,
                                    self.leverage, MAINTENANCE_MARGIN_RATE)
        return instrument.round_price(price) if price is not None else None

    def unrealized(self, mark: Decimal) -> Decimal:
        return (mark - self.entry_price) * self.size * self.side

    def to_model(self, venue: str, instrument: Instrument, mark: Decimal | None) -> Position:
        return Position(
            venue=venue,
            symbol=self.symbol,
            side=PositionSide.LONG if self.side > 0 else PositionSide.SHORT,
            size=self.size,
            entry_price=self.entry_price,
            leverage=self.leverage,
            margin=self.margin,
            mark_price=mark,
            unrealized_pnl=self.unrealized(mark) if mark is not None else ZERO,
            realized_pnl=self.realized_pnl,
            liquidation_price=self.liquidation_price(instrument),
            created_ts=self.created_ts,
            updated_ts=self.updated_ts,
        )


class Account:
    def __init__(self, balances: dict[str, tuple[Decimal, Decimal]] | None = None) -> None:
        self.free: dict[str, Decimal] = {}
        self.used: dict[str, Decimal] = {}
        for asset, (free, used) in (balances or {}).items():
            self.free[asset] = free
            self.used[asset] = used
        self.positions: dict[str, PerpPosition] = {}

    def balances(self) -> list[Balance]:
        """Every asset ever held; an exhausted amount reads 0 rather than 0E-10."""
        return [Balance(asset=a, free=self.free.get(a, ZERO) or ZERO, used=self.used.get(a, ZERO) or ZERO)
                for a in sorted(set(self.free) | set(self.used))]

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

    def _draw(self, hold: Hold, asset: str, amount: Decimal, *, keep_used: bool) -> None:
        """Take ``amount`` of ``asset`` for a fill, from the order's hold first. ``keep_used``
        leaves it in ``used`` (it becomes position margin) instead of spending it."""
        from_hold = min(amount, hold.amount) if hold.asset == asset else ZERO
        hold.amount -= from_hold
        rest = amount - from_hold
        self.free[asset] = self.free.get(asset, ZERO) - rest
        self.used[asset] = self.used.get(asset, ZERO) + (rest if keep_used else -from_hold)

    def pay(self, asset: str, amount: Decimal) -> None:
        """A payment out of the free balance (negative: a receipt), such as funding."""
        self.free[asset] = self.free.get(asset, ZERO) - amount

    def _credit(self, asset: str, amount: Decimal) -> None:
        self.free[asset] = self.free.get(asset, ZERO) + amount

    def spot_fill(self, instrument: Instrument, hold: Hold, side: int, price: Decimal, size: Decimal, fee: Decimal) -> None:
        notional = price * size
        if side > 0:
            self._draw(hold, instrument.quote, notional + fee, keep_used=False)
            self._credit(instrument.base, size)
        else:
            self._draw(hold, instrument.base, size, keep_used=False)
            self._credit(instrument.quote, notional - fee)

    def perp_fill(
        self, instrument: Instrument, hold: Hold, side: int, price: Decimal, size: Decimal, fee: Decimal,
        leverage: int, ts: int,
    ) -> PerpPosition | None:
        """Apply a perpetual fill; returns the position afterwards (size 0 when it closed)."""
        quote = instrument.quote
        position = self.positions.get(instrument.symbol)
        closing = min(size, position.size) if position is not None and position.side != side else ZERO
        if closing:
            assert position is not None
            pnl = (price - position.entry_price) * closing * position.side
            released = position.margin * closing / position.size
            position.margin -= released
            position.size -= closing
            position.realized_pnl += pnl
            position.updated_ts = ts
            self.used[quote] -= released
            self._credit(quote, released + pnl)
            if position.size == 0:
                del self.positions[instrument.symbol]
        opening = size - closing
        if opening:
            if position is None or position.size == 0:
                position = PerpPosition(instrument.symbol, side, ZERO, price, leverage, ZERO, created_ts=ts)
                self.positions[instrument.symbol] = position
            margin = price * opening / position.leverage
            self._draw(hold, quote, margin, keep_used=True)
            position.entry_price = (position.entry_price * position.size + price * opening) / (position.size + opening)
            position.size += opening
            position.margin += margin
            position.updated_ts = ts
        self._draw(hold, quote, fee, keep_used=False)
        return position

    def liquidate(self, instrument: Instrument, ts: int) -> PerpPosition:
        """Close a position at its liquidation price: the whole isolated margin is lost."""
        position = self.positions.pop(instrument.symbol)
        self.used[instrument.quote] -= position.margin
        position.realized_pnl -= position.margin
        position.size = ZERO
        position.updated_ts = ts
        return position
