"""Stop-loss and take-profit levels of open positions, and which of them the mark has reached.

A position's own levels (from the order that opened it, or set by hand) win over the configured
percentages. Own levels are bound to one position, by its side and opening time, so levels set
for a position never outlive it and close the next position on the same market.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.config import TradingConfig
from core.models import Order, Position, PositionSide
from core.portfolio import Portfolio


@dataclass(frozen=True)
class Protection:
    stop_loss: Decimal
    take_profit: Decimal


@dataclass(frozen=True)
class _OwnLevels:
    stop_loss: Decimal | None
    take_profit: Decimal | None
    side: PositionSide
    opened_ts: int

    def belongs_to(self, position: Position) -> bool:
        return self.side is position.side and self.opened_ts == position.created_ts


class Protections:
    def __init__(self, trading: TradingConfig, portfolio: Portfolio) -> None:
        self._trading = trading
        self._portfolio = portfolio
        self._own: dict[tuple[str, str], _OwnLevels] = {}

    def set(self, venue: str, symbol: str, stop_loss: Decimal | None, take_profit: Decimal | None) -> None:
        """Set levels for the open position on a market; a level left as None keeps the one
        already set for this position."""
        position = self._portfolio.position(venue, symbol)
        if position is None:
            raise ValueError(f"there is no open {symbol} position on {venue} to protect")
        current = self._current(position)
        if current is not None:
            stop_loss = stop_loss if stop_loss is not None else current.stop_loss
            take_profit = take_profit if take_profit is not None else current.take_profit
        self._own[(venue, symbol)] = _OwnLevels(stop_loss, take_profit, position.side, position.created_ts)

    def adopt(self, order: Order) -> None:
        """Take the levels of a filled order that opened or added to a position."""
        if order.filled_size <= 0 or (order.stop_loss is None and order.take_profit is None):
            return
        position = self._portfolio.position(order.venue, order.symbol)
        if position is None or (position.side is PositionSide.LONG) != (order.side.sign > 0):
            return
        self.set(order.venue, order.symbol, order.stop_loss, order.take_profit)

    def levels(self, position: Position) -> Protection:
        """The position's own levels where set, else entry -/+ the configured percentages."""
        own = self._current(position)
        sign = Decimal(1) if position.side is PositionSide.LONG else Decimal(-1)
        stop = own.stop_loss if own is not None and own.stop_loss is not None else (
            position.entry_price * (1 - sign * Decimal(str(self._trading.stop_loss_pct)))
        )
        take = own.take_profit if own is not None and own.take_profit is not None else (
            position.entry_price * (1 + sign * Decimal(str(self._trading.take_profit_pct)))
        )
        return Protection(stop, take)

    def triggered(self) -> list[tuple[Position, str, Decimal]]:
        """(position, "stop_loss" | "take_profit", level) for every position whose mark reached a level."""
        hits: list[tuple[Position, str, Decimal]] = []
        for position in self._portfolio.positions():
            mark = position.mark_price
            if mark is None:
                continue
            levels = self.levels(position)
            long = position.side is PositionSide.LONG
            if (mark <= levels.stop_loss) if long else (mark >= levels.stop_loss):
                hits.append((position, "stop_loss", levels.stop_loss))
            elif (mark >= levels.take_profit) if long else (mark <= levels.take_profit):
                hits.append((position, "take_profit", levels.take_profit))
        return hits

    def _current(self, position: Position) -> _OwnLevels | None:
        key = (position.venue, position.symbol)
        own = self._own.get(key)
        if own is not None and not own.belongs_to(position):
            del self._own[key]
            return None
        return own
