"""A local L2 order book kept from a snapshot and sequenced deltas.

Exchanges send a snapshot, then deltas numbered by update id. A delta that does not continue
the sequence means a message was lost: the book is stale and must be rebuilt from a new
snapshot (``BookGap``), never patched silently. Prices are kept sorted in plain lists with
``bisect`` (levels change far more often than they appear or vanish), and the top of the book
is copied out on demand.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from decimal import Decimal

from core.models import OrderBook

Level = tuple[Decimal, Decimal]


class BookGap(Exception):
    """A delta skipped part of the sequence; rebuild from a snapshot."""


class _Side:
    """Levels of one side, prices ascending; ``best`` is the last (bids) or first (asks)."""

    __slots__ = ("prices", "sizes", "descending")

    def __init__(self, descending: bool) -> None:
        self.prices: list[Decimal] = []
        self.sizes: dict[Decimal, Decimal] = {}
        self.descending = descending

    def clear(self) -> None:
        self.prices.clear()
        self.sizes.clear()

    def set(self, price: Decimal, size: Decimal) -> None:
        sizes = self.sizes
        if size:
            if price not in sizes:
                insort(self.prices, price)
            sizes[price] = size
        elif price in sizes:
            del sizes[price]
            prices = self.prices
            del prices[bisect_left(prices, price)]

    def top(self, depth: int) -> list[Level]:
        sizes = self.sizes
        chosen = self.prices[:-depth - 1:-1] if self.descending else self.prices[:depth]
        return [(p, sizes[p]) for p in chosen]


class LocalBook:
    def __init__(self, venue: str, symbol: str) -> None:
        self.venue = venue
        self.symbol = symbol
        self.bids = _Side(descending=True)
        self.asks = _Side(descending=False)
        self.sequence: int | None = None
        self.ts = 0

    @property
    def synced(self) -> bool:
        return self.sequence is not None

    def apply_snapshot(
        self, bids: Iterable[Level], asks: Iterable[Level], sequence: int | None, ts: int
    ) -> None:
        self.bids.clear()
        self.asks.clear()
        for price, size in bids:
            self.bids.set(price, size)
        for price, size in asks:
            self.asks.set(price, size)
        self.sequence = sequence if sequence is not None else 0
        self.ts = ts

    def apply_delta(
        self,
        first_id: int,
        last_id: int,
        bids: Iterable[Level],
        asks: Iterable[Level],
        ts: int,
    ) -> bool:
        """Apply the changes numbered first_id..last_id (a size of 0 removes a level).

        Returns False for a delta the book already contains (a late duplicate); raises BookGap
        when ``first_id`` is past the next expected id, leaving the book unsynced.
        """
        if self.sequence is None:
            raise BookGap(f"{self.symbol}: no snapshot yet")
        if last_id <= self.sequence:
            return False
        if first_id > self.sequence + 1:
            expected = self.sequence + 1
            self.sequence = None
            raise BookGap(f"{self.symbol}: expected update {expected}, got {first_id}..{last_id}")
        for price, size in bids:
            self.bids.set(price, size)
        for price, size in asks:
            self.asks.set(price, size)
        self.sequence = last_id
        self.ts = ts
        return True

    def snapshot(self, depth: int = 20) -> OrderBook:
        """The top levels as an OrderBook; built without re-validation (the values are ours)."""
        return OrderBook.model_construct(
            venue=self.venue,
            symbol=self.symbol,
            ts=self.ts,
            bids=self.bids.top(depth),
            asks=self.asks.top(depth),
        )
