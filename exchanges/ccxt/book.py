"""The order book the app reads, made from the book ccxt.pro keeps.

ccxt.pro owns each streamed book: it applies the exchange's deltas by sequence id, and when a
delta skips part of the sequence it drops the book and starts again from a new snapshot (the
stream supervisor reports the gap). After every message the venue gets ccxt's whole book back,
levels as ``[price, size]`` floats, best first, and publishes the top levels as the core's
``OrderBook`` with ``Decimal`` prices and sizes.

Converting all 40 visible levels to ``Decimal`` through their text on every message was most of
the venue's time per message, while a message changes a few levels and the rest of the top stays.
``BookView`` keeps, per side, the ``Decimal`` level it last made for each price with the float
size it came from: a level whose size did not change is reused as is (the same tuple), a new
size at a known price converts only the size, and only new prices convert both.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from core.models import OrderBook
from core.ports import Clock
from exchanges.ccxt.mapping import dec0

Level = tuple[Decimal, Decimal]

# Levels remembered per side before the memory starts again: far more than the top of the book
# ever holds, so clearing it costs one conversion of the visible levels now and then.
MEMORY = 4096


def _decimal(value: Any) -> Decimal:
    """ccxt's floats through their shortest text (0.1 stays 0.1), anything else as mapping does."""
    return Decimal(repr(value)) if type(value) is float else dec0(value)


class _Side:
    """The ``Decimal`` level last made for each price of one side, with its float size."""

    __slots__ = ("known",)

    def __init__(self) -> None:
        self.known: dict[Any, tuple[Any, Level]] = {}

    def top(self, levels: Sequence[Sequence[Any]], depth: int) -> list[Level]:
        known = self.known
        if len(known) > MEMORY:
            known.clear()
        out = []
        for level in levels[:depth]:
            price = level[0]
            size = level[1]
            seen = known.get(price)
            if seen is None:
                seen = known[price] = (size, (_decimal(price), _decimal(size)))
            elif seen[0] != size:
                # inline for floats: a call costs a sixth of the conversion
                seen = known[price] = (size, (seen[1][0], Decimal(repr(size)) if type(size) is float else dec0(size)))
            out.append(seen[1])
        return out


class BookView:
    """The top ``depth`` levels of one market's ccxt book, as the ``OrderBook`` to publish."""

    def __init__(self, venue: str, symbol: str, depth: int) -> None:
        self.venue = venue
        self.symbol = symbol
        self.depth = depth
        self._bids = _Side()
        self._asks = _Side()

    def convert(self, raw: dict[str, Any], clock: Clock) -> OrderBook:
        """``raw`` is ccxt's book (``bids``/``asks`` best first, ``timestamp`` in ms or None,
        then the clock's time); the model is built without re-validation, since every value
        was converted here."""
        return OrderBook.trusted(
            self.venue,
            self.symbol,
            raw.get("timestamp") or clock.now_ms(),
            self._bids.top(raw.get("bids") or (), self.depth),
            self._asks.top(raw.get("asks") or (), self.depth),
        )
