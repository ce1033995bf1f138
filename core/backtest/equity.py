"""The event backtester's equity at each candle's close, worked out once the replay is over.

Between two moves of the ledger (a fill, a funding payment) the equity is the account's cash
plus, for each open position, ``(mark - entry) * size * contract_size`` at its market's last
price: ``Backtester.equity``'s Decimal arithmetic, in which only the marks change from candle to
candle. So the replay starts a segment when the ledger moved and appends each open position's
mark (ticks) per candle, and the curve is computed here, a segment at a time.

A segment with one open position whose arithmetic is exact for every mark in it is evaluated in
integers: ``cash + (m * tick - entry) * size * contract_size`` is ``(a + m * b) / d`` for integers
a, b, d, and Python's integer division is correctly rounded, so it is the very float that
``float()`` of the exact Decimal gives. Exactness is checked at the segment's lowest and highest
mark, with Decimal's Inexact signal trapped: every coefficient on the way is linear in the mark
and its exponent does not depend on it, so a result that fits the context's precision at both
ends fits it in between. Any other segment is evaluated in Decimal, as ``Backtester.equity`` is.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from decimal import Decimal, Inexact, localcontext
from math import gcd

import numpy as np


@dataclass
class _Held:
    """One open position through a segment: the Decimal terms of its PnL and its mark per candle."""

    tick: Decimal
    entry: Decimal
    size: Decimal
    contract_size: Decimal
    marks: array[int] = field(default_factory=lambda: array("q"))

    def pnl(self, mark: int) -> Decimal:
        return (mark * self.tick - self.entry) * self.size * self.contract_size


@dataclass
class _Segment:
    start: int  # its first candle
    cash: Decimal
    held: list[_Held]


class EquityCurve:
    """The segments of one replay (module docstring)."""

    def __init__(self) -> None:
        self._segments: list[_Segment] = []

    def moved(self, candle: int, cash: Decimal, held: list[tuple[Decimal, Decimal, Decimal, Decimal]]) -> list[array[int]]:
        """The ledger moved before ``candle``'s close: from there the cash is ``cash`` and the open
        positions are ``held`` (tick, entry, size, contract size, in the order the equity adds
        them). Returns the arrays that take each position's mark, a candle at a time."""
        positions = [_Held(*terms) for terms in held]
        self._segments.append(_Segment(candle, cash, positions))
        return [position.marks for position in positions]

    def exposed(self, candles: int) -> int:
        """How many of the ``candles`` closed with a position open."""
        return sum(stop - segment.start for segment, stop in self._bounds(candles) if segment.held)

    def values(self, candles: int) -> np.ndarray:
        """The equity at the close of each of the ``candles``."""
        equity = np.empty(candles)
        for segment, stop in self._bounds(candles):
            equity[segment.start:stop] = _evaluate(segment, stop - segment.start)
        return equity

    def _bounds(self, candles: int) -> list[tuple[_Segment, int]]:
        stops = [segment.start for segment in self._segments[1:]] + [candles]
        return list(zip(self._segments, stops, strict=True))


def _evaluate(segment: _Segment, length: int) -> list[float]:
    cash, held = segment.cash, segment.held
    if not held:
        return [float(cash)] * length
    if len(held) == 1 and _exact(cash, held[0]):
        position = held[0]
        # cash + (m * tick - entry) * size * contract_size over one denominator, from each Decimal's
        # integer ratio (Fraction's arithmetic cost more than the segment's marks)
        cash_n, cash_d = cash.as_integer_ratio()
        entry_n, entry_d = position.entry.as_integer_ratio()
        tick_n, tick_d = position.tick.as_integer_ratio()
        size_n, size_d = position.size.as_integer_ratio()
        contract_n, contract_d = position.contract_size.as_integer_ratio()
        units_n, units_d = size_n * contract_n, size_d * contract_d
        a = (cash_n * entry_d * units_d - entry_n * units_n * cash_d) * tick_d
        b = tick_n * units_n * cash_d * entry_d
        denominator = cash_d * entry_d * units_d * tick_d
        common = gcd(a, b, denominator)
        a, b, denominator = a // common, b // common, denominator // common
        return [(a + mark * b) / denominator for mark in position.marks]
    values = []
    for j in range(length):
        total = cash
        for position in held:
            total += position.pnl(position.marks[j])
        values.append(float(total))
    return values


def _exact(cash: Decimal, position: _Held) -> bool:
    """Whether Decimal computes ``cash + position.pnl(m)`` without rounding for every mark m of
    the segment (module docstring)."""
    with localcontext() as context:
        context.traps[Inexact] = True
        try:
            for mark in (min(position.marks), max(position.marks)):
                _ = cash + position.pnl(mark)
        except Inexact:
            return False
    return True
