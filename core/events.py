"""Typed events and the asyncio pub/sub bus that carries them.

Each subscriber has its own bounded inbox. Market data for a slow subscriber is coalesced
(a newer book for the same symbol replaces the queued one) or, past the bound, the oldest is
dropped; order, fill and risk events are never dropped or coalesced: losing one would make a
screen or a ledger lie.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from core.models import (
    AgentOpinion,
    Balance,
    Candle,
    ExecutionReport,
    Fill,
    FundingPayment,
    MarketStats,
    Order,
    OrderBook,
    Position,
    ProtectiveLevels,
    RiskState,
    Signal,
    Ticker,
    Trade,
)

log = logging.getLogger(__name__)

_set = object.__setattr__  # a frozen event's own slots, set once
_get = object.__getattribute__


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event. ``critical`` events are never dropped by the bus."""

    critical: ClassVar[bool] = True

    @property
    def coalesce_key(self) -> Hashable | None:
        return None


@dataclass(frozen=True, slots=True)
class MarketEvent(Event):
    critical: ClassVar[bool] = False


@dataclass(frozen=True)
class OrderBookUpdated(MarketEvent):
    """A market's new book, given made or to be made on its first read.

    A streamed book changes every few microseconds under load while the screen reads one a
    frame: a venue passes ``later`` what makes the book (from levels it copied when the update
    came), and ``book`` is made the first time anyone reads it, then kept; every reader of this
    event gets that one book. ``venue``, ``symbol`` and the coalescing key need no book."""

    # ``book`` is a property (set below) over ``_book``: the book, or what makes it until it is
    # read; ``coalesce_key`` a slot rather than the property: set once, read for every subscriber
    __slots__ = ("_book", "coalesce_key")
    book: OrderBook

    @classmethod
    def later(cls, venue: str, symbol: str, make: Callable[..., OrderBook], *args: Any) -> OrderBookUpdated:
        """The event whose book is ``make(*args)``, called on the first read."""
        event = cls.__new__(cls)
        _set(event, "_book", (make, args))
        _set(event, "coalesce_key", ("book", venue, symbol))
        return event

    @property
    def venue(self) -> str:
        key: tuple[str, str, str] = self.coalesce_key  # type: ignore[assignment]
        return key[1]

    @property
    def symbol(self) -> str:
        key: tuple[str, str, str] = self.coalesce_key  # type: ignore[assignment]
        return key[2]


def _book(event: OrderBookUpdated) -> OrderBook:
    book: OrderBook | tuple[Callable[..., OrderBook], tuple[Any, ...]] = _get(event, "_book")
    if type(book) is tuple:
        make, args = book
        book = make(*args)
        _set(event, "_book", book)
    return book  # type: ignore[return-value]


def _give_book(event: OrderBookUpdated, book: OrderBook) -> None:
    """What the dataclass's ``__init__`` (and pydantic, decoding the stream) sets."""
    _set(event, "_book", book)
    _set(event, "coalesce_key", ("book", book.venue, book.symbol))


# Only once the dataclass is made, which takes ``book`` for a field without a default.
setattr(OrderBookUpdated, "book", property(_book, _give_book))  # noqa: B010


@dataclass(frozen=True, slots=True)
class TickerUpdated(MarketEvent):
    ticker: Ticker

    @property
    def coalesce_key(self) -> Hashable:
        return ("ticker", self.ticker.venue, self.ticker.symbol)


@dataclass(frozen=True, slots=True)
class TradePrinted(MarketEvent):
    trade: Trade


@dataclass(frozen=True, slots=True)
class CandleClosed(MarketEvent):
    venue: str
    symbol: str
    timeframe: str
    candle: Candle


@dataclass(frozen=True, slots=True)
class MarketStatsUpdated(MarketEvent):
    """What the data service read of a market beyond its prices (core/marketdata)."""

    stats: MarketStats

    @property
    def coalesce_key(self) -> Hashable:
        return ("stats", self.stats.venue, self.stats.symbol)


@dataclass(frozen=True, slots=True)
class ExecutionReported(Event):
    """Raw word from a venue; the OrderManager turns it into OrderUpdated / OrderFilled."""

    report: ExecutionReport


@dataclass(frozen=True, slots=True)
class OrderUpdated(Event):
    order: Order
    previous_status: str | None = None


@dataclass(frozen=True, slots=True)
class OrderFilled(Event):
    fill: Fill


@dataclass(frozen=True, slots=True)
class FundingReported(Event):
    """Raw word from a venue that it settled funding on a position; the engine records it
    (``core.funding``) and publishes FundingPaid the first time."""

    payment: FundingPayment


@dataclass(frozen=True, slots=True)
class FundingPaid(Event):
    """A funding payment recorded, once: a row in ``funding_payments`` and this event."""

    payment: FundingPayment


@dataclass(frozen=True, slots=True)
class PositionChanged(Event):
    position: Position
    closed: bool = False


@dataclass(frozen=True, slots=True)
class ProtectionChanged(Event):
    """A position's protective levels were set, changed or removed (``levels`` None)."""

    venue: str
    symbol: str
    levels: ProtectiveLevels | None


@dataclass(frozen=True, slots=True)
class BalancesChanged(Event):
    venue: str
    balances: tuple[Balance, ...]


@dataclass(frozen=True, slots=True)
class RiskStateChanged(Event):
    old: RiskState
    new: RiskState
    reason: str
    by_person: bool = False  # a halt a person asked for: closing orders are stopped too


@dataclass(frozen=True, slots=True)
class RiskAlert(Event):
    level: str  # "info" | "warning" | "critical"
    rule: str
    message: str
    symbol: str | None = None
    ts: int = 0


@dataclass(frozen=True, slots=True)
class OrderRejected(Event):
    """A request refused before it became an order at a venue (risk, validation)."""

    client_order_id: str
    symbol: str
    reason: str
    source: str = "risk"
    strategy_id: str | None = None


@dataclass(frozen=True, slots=True)
class StrategyHalted(Event):
    """A strategy's circuit breaker tripped (a runaway, a burst of rejections): the strategy
    runner stops it; its orders are refused until an admin resets the breaker."""

    strategy_id: str
    reason: str
    ts: int = 0


@dataclass(frozen=True, slots=True)
class SignalGenerated(Event):
    signal: Signal


@dataclass(frozen=True, slots=True)
class AgentDecision(Event):
    symbol: str
    opinions: tuple[AgentOpinion, ...]
    signal: Signal
    verdict: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConnectionChanged(Event):
    venue: str
    state: str  # "connecting" | "connected" | "degraded" | "disconnected"
    latency_ms: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class EngineStatus(Event):
    state: str  # "starting" | "running" | "stopping" | "stopped"
    detail: str = ""


class Subscription:
    """One subscriber's inbox: critical events in order, market data coalesced and bounded."""

    _unique = itertools.count()

    def __init__(self, bus: EventBus, types: tuple[type[Event], ...], maxsize: int, name: str) -> None:
        self._bus = bus
        self.types = types
        self.name = name
        self.maxsize = maxsize
        self._critical: deque[Event] = deque()
        self._market: OrderedDict[Hashable, Event] = OrderedDict()
        self._ready = asyncio.Event()
        self.dropped = 0
        self.coalesced = 0
        self.closed = False

    def wants(self, event: Event) -> bool:
        return isinstance(event, self.types)

    def offer(self, event: Event) -> None:
        if event.critical:
            self._critical.append(event)
        else:
            key = event.coalesce_key
            if key is None:
                key = ("u", next(self._unique))
            if key in self._market:
                self._market[key] = event
                self.coalesced += 1
            else:
                if len(self._market) >= self.maxsize:
                    self._market.popitem(last=False)
                    self.dropped += 1
                self._market[key] = event
        self._ready.set()

    def __len__(self) -> int:
        return len(self._critical) + len(self._market)

    def get_nowait(self) -> Event | None:
        if self._critical:
            return self._critical.popleft()
        if self._market:
            return self._market.popitem(last=False)[1]
        self._ready.clear()
        return None

    def drain(self) -> list[Event]:
        """Everything queued, critical events first, for consumers that render in batches."""
        events: list[Event] = list(self._critical)
        events.extend(self._market.values())
        self._critical.clear()
        self._market.clear()
        self._ready.clear()
        return events

    async def get(self) -> Event:
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self.closed:
                raise StopAsyncIteration
            await self._ready.wait()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self._bus.unsubscribe(self)


Listener = Callable[[Event], None]


class EventBus:
    """Publish is synchronous and never blocks; subscribers read at their own pace."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._listeners: list[tuple[tuple[type[Event], ...], Listener]] = []
        # Who receives each type of event, worked out at its first publication after a change
        # of listeners or subscribers: publish no longer asks every one of them (a score of
        # isinstance calls an event, thousands of events a second).
        self._routes: dict[type[Event], tuple[tuple[Listener, ...], tuple[Subscription, ...]]] = {}
        self.published = 0

    def subscribe(
        self, *types: type[Event], maxsize: int = 1000, name: str = "subscriber"
    ) -> Subscription:
        sub = Subscription(self, types or (Event,), maxsize, name)
        self._subs.append(sub)
        self._routes.clear()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._routes.clear()

    def add_listener(self, types: Iterable[type[Event]], listener: Listener) -> None:
        """A synchronous callback run inside ``publish``: for cheap, in-order bookkeeping only."""
        self._listeners.append((tuple(types), listener))
        self._routes.clear()

    def remove_listener(self, listener: Listener) -> None:
        """Compares by equality: ``obj.method`` is a new bound-method object at each access, equal
        to (not identical with) the one that was added."""
        self._listeners = [(t, fn) for t, fn in self._listeners if fn != listener]
        self._routes.clear()

    def publish(self, event: Event) -> None:
        self.published += 1
        kind = type(event)
        route = self._routes.get(kind)
        if route is None:
            route = self._routes[kind] = (
                tuple(listener for types, listener in self._listeners if issubclass(kind, types)),
                tuple(sub for sub in self._subs if issubclass(kind, sub.types)),
            )
        listeners, subs = route
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on %s", listener, type(event).__name__)
        for sub in subs:
            sub.offer(event)
