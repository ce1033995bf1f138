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

Most books are never read: the screen reads one a frame (8 a second) while a busy market sends
hundreds, and strategies and risk checks read on their own schedule. So the venue publishes
what makes the book (``BookView.later``: ccxt's top level lists and their sizes, copied as the
update came: two slices and two short comprehensions) and the book is made on its first read
(``OrderBookUpdated``), with the same values as if made at once. The level lists can be kept rather than copied since
ccxt's book sides replace a level's list when its price changes and write only its size (and
count) in place; the sizes are what is copied.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from core.events import OrderBookUpdated
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

    def top(self, levels: Sequence[Sequence[Any]], sizes: Iterable[Any]) -> list[Level]:
        """``levels`` best first, each ``[price, size, ...]`` with ``sizes`` the size of each as
        it was when the update came."""
        known = self.known
        if len(known) > MEMORY:
            known.clear()
        out = []
        for level, size in zip(levels, sizes, strict=True):
            price = level[0]
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
        then the clock's time), made into the book at once."""
        depth = self.depth
        bids = (raw.get("bids") or ())[:depth]
        asks = (raw.get("asks") or ())[:depth]
        return self._make(raw.get("timestamp") or clock.now_ms(), bids, [level[1] for level in bids], asks,
                          [level[1] for level in asks])

    def later(self, raw: dict[str, Any], clock: Clock) -> OrderBookUpdated:
        """The event whose book is ``convert``'s of ``raw`` as it is now, made on its first
        read: it keeps the top level lists as they stand (ccxt replaces a level's list when its
        price changes) and a copy of their sizes (ccxt writes a new size in place)."""
        depth = self.depth
        bids = (raw.get("bids") or ())[:depth]
        asks = (raw.get("asks") or ())[:depth]
        # a comprehension: faster than map(itemgetter(1), ...) on 20 levels (0.30 against 0.44 us)
        return OrderBookUpdated.later(self.venue, self.symbol, self._make, raw.get("timestamp") or clock.now_ms(),
                                      bids, [level[1] for level in bids], asks, [level[1] for level in asks])

    def _make(self, ts: int, bids: Sequence[Sequence[Any]], bid_sizes: Iterable[Any], asks: Sequence[Sequence[Any]],
              ask_sizes: Iterable[Any]) -> OrderBook:
        """The model is built without re-validation, since every value was converted here."""
        return OrderBook.trusted(self.venue, self.symbol, ts, self._bids.top(bids, bid_sizes),
                                 self._asks.top(asks, ask_sizes))


class LatestBooks(Mapping[str, OrderBook]):
    """The last published book of each market, by symbol, made when read (the event's)."""

    def __init__(self) -> None:
        self.events: dict[str, OrderBookUpdated] = {}

    def __getitem__(self, symbol: str) -> OrderBook:
        return self.events[symbol].book

    def __iter__(self) -> Iterator[str]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)
