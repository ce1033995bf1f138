"""The gateway's event stream: topics, messages and their encoding, shared by both ends.

Each message is one line of JSON: ``{"seq", "ts", "topic", "event", "data"}``, where ``event``
names a core event class and ``data`` holds its fields, so a client decodes it back into the
very event the engine published (``OrderUpdated``, ``OrderFilled``...) and can feed it to a
local bus. A WebSocket text frame carries one or more lines.

``seq`` rises with every message the gateway sends, across all topics: a client keeps the last
one it handled and hands it back when it reconnects. Order, fill, position, balance, risk and
alert messages are kept for such a resume; market data is not (the latest book replaces the
ones missed) and comes again as current state after a reconnect.

Topics: ``book:VENUE:SYMBOL``, ``trades:VENUE:SYMBOL``, ``candles:VENUE:SYMBOL``,
``stats:VENUE:SYMBOL`` (the data service's funding and open interest), ``tickers``,
``orders``, ``fills`` (with the funding payments recorded), ``positions``, ``balances``, ``risk``, ``alerts``, ``decisions``,
``strategies``, ``status``; a subscription ending in ``*`` takes every topic it begins
(``book:*``). ``control`` (hello, snapshot, error) reaches every client.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from core.events import (
    AgentDecision,
    BalancesChanged,
    CandleClosed,
    ConnectionChanged,
    EngineStatus,
    Event,
    FundingPaid,
    MarketEvent,
    MarketStatsUpdated,
    OrderBookUpdated,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    PositionChanged,
    ProtectionChanged,
    RiskAlert,
    RiskStateChanged,
    SignalGenerated,
    StrategyHalted,
    TickerUpdated,
    TradePrinted,
)
from core.strategies.info import StrategyInfo
from core.views import AccountSnapshot, PositionView, StatusView

CONTROL = "control"
ACCOUNT_TOPICS = ("orders", "fills", "positions", "balances", "risk", "alerts", "decisions", "strategies", "status")
MARKET_TOPICS = ("book", "trades", "candles", "stats")
MAX_TOPICS = 200


# -- messages only the stream carries -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusChanged(MarketEvent):
    """The status line (equity, PnL, risk, connections), sent when it changes, at most once a
    second: only the latest matters."""

    status: StatusView

    @property
    def coalesce_key(self) -> Hashable:
        return "status"


@dataclass(frozen=True, slots=True)
class PositionsMarked(MarketEvent):
    """Every open position with its current mark, PnL and protective levels, when any of them
    changed, at most once a second; sizes and entries also come as ``PositionChanged``."""

    positions: tuple[PositionView, ...]

    @property
    def coalesce_key(self) -> Hashable:
        return "positions"


@dataclass(frozen=True, slots=True)
class StrategyChanged(MarketEvent):
    """A strategy's state and figures, when they change: the latest replaces the earlier."""

    strategy: StrategyInfo

    @property
    def coalesce_key(self) -> Hashable:
        return ("strategy", self.strategy.strategy_id)


@dataclass(frozen=True, slots=True)
class StreamHello(Event):
    """The first message of a connection. ``resumed``: the messages missed since the client's
    ``since`` follow (``replayed`` of them); otherwise a ``StreamSnapshot`` follows."""

    epoch: str
    seq: int
    resumed: bool
    replayed: int
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StreamSnapshot(Event):
    """The account as of this message's seq: a client replaces what it mirrors with it."""

    snapshot: AccountSnapshot


@dataclass(frozen=True, slots=True)
class StreamError(Event):
    """A request on the stream that was refused; the connection stays open."""

    reason: str


STREAM_EVENTS: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        OrderBookUpdated, TradePrinted, CandleClosed, MarketStatsUpdated, TickerUpdated, OrderUpdated, OrderRejected,
        OrderFilled, FundingPaid, PositionChanged, PositionsMarked, ProtectionChanged, BalancesChanged, RiskStateChanged, RiskAlert,
        AgentDecision,
        SignalGenerated, StrategyHalted, StrategyChanged, EngineStatus, ConnectionChanged, StatusChanged,
        StreamHello, StreamSnapshot, StreamError,
    )
}


def topic_of(event: Event) -> str | None:
    """The topic an event is sent on; None for events the stream does not carry."""
    match event:
        case OrderBookUpdated(venue=venue, symbol=symbol):
            return f"book:{venue}:{symbol}"
        case TradePrinted(trade=trade):
            return f"trades:{trade.venue}:{trade.symbol}"
        case CandleClosed(venue=venue, symbol=symbol):
            return f"candles:{venue}:{symbol}"
        case MarketStatsUpdated(stats=stats):
            return f"stats:{stats.venue}:{stats.symbol}"
        case TickerUpdated():
            return "tickers"
        case OrderUpdated() | OrderRejected():
            return "orders"
        case OrderFilled() | FundingPaid():
            return "fills"
        case PositionChanged() | PositionsMarked() | ProtectionChanged():
            return "positions"
        case BalancesChanged():
            return "balances"
        case RiskStateChanged():
            return "risk"
        case RiskAlert():
            return "alerts"
        case AgentDecision():
            return "decisions"
        case SignalGenerated() | StrategyHalted() | StrategyChanged():
            return "strategies"
        case EngineStatus() | ConnectionChanged() | StatusChanged():
            return "status"
        case StreamHello() | StreamSnapshot() | StreamError():
            return CONTROL
    return None


def topic_problem(topic: str) -> str | None:
    """Why a client may not subscribe to ``topic``, or None."""
    if not topic or len(topic) > 200:
        return "a topic is 1 to 200 characters"
    if topic in ACCOUNT_TOPICS or topic == "tickers" or topic == "*":
        return None
    kind, _, market = topic.partition(":")
    if kind in MARKET_TOPICS and market and (market == "*" or ":" in market):
        return None
    if topic.endswith("*"):
        return None
    return (f"unknown topic '{topic}': use {', '.join(ACCOUNT_TOPICS)}, tickers, "
            "book:VENUE:SYMBOL, trades:VENUE:SYMBOL, candles:VENUE:SYMBOL, stats:VENUE:SYMBOL, or a prefix ending in *")


def matches(pattern: str, topic: str) -> bool:
    return topic == CONTROL or pattern == topic or (pattern.endswith("*") and topic.startswith(pattern[:-1]))


_ADAPTERS: dict[type[Event], TypeAdapter[Any]] = {}


def _adapter(cls: type[Event]) -> TypeAdapter[Any]:
    """One adapter per event class (building one costs far more than a message); a dict rather
    than functools.cache, whose Hashable bound mypy does not see a class object meet."""
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


def event_json(event: Event) -> str:
    """The event's fields as JSON; values pydantic does not know (a numpy number in a
    strategy's state) become their text rather than failing the message."""
    return _adapter(type(event)).dump_json(event, fallback=str).decode()


def encode(seq: int, ts: int, topic: str, event: Event) -> str:
    return (f'{{"seq":{seq},"ts":{ts},"topic":{json.dumps(topic)},"event":"{type(event).__name__}",'
            f'"data":{event_json(event)}}}')


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded message; ``event`` is None for an event class this client does not know
    (a newer gateway), whose ``data`` is kept as it came."""

    seq: int
    ts: int
    topic: str
    name: str
    event: Event | None
    data: dict[str, Any]


def decode(line: str) -> Message:
    """One line of a frame; ValueError when it is not a message."""
    raw = json.loads(line)
    if not isinstance(raw, dict) or not isinstance(raw.get("seq"), int) or not isinstance(raw.get("data"), dict):
        raise ValueError(f"not a stream message: {line[:200]}")
    name = str(raw.get("event"))
    cls = STREAM_EVENTS.get(name)
    event = _adapter(cls).validate_python(raw["data"]) if cls is not None else None
    return Message(raw["seq"], int(raw.get("ts", 0)), str(raw.get("topic", "")), name, event, raw["data"])


def decode_frame(text: str) -> list[Message]:
    return [decode(line) for line in text.split("\n") if line]


class StreamRequest(BaseModel):
    """What a client sends on the stream. The first must be a ``subscribe``; its ``since`` and
    ``epoch`` (from the last connection's hello) ask for the missed messages instead of a
    snapshot."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    op: Literal["subscribe", "unsubscribe"]
    topics: list[str] = Field(default_factory=list, max_length=MAX_TOPICS)
    since: int | None = Field(default=None, ge=0)
    epoch: str | None = Field(default=None, max_length=64)


class StreamEnvelope(BaseModel):
    """One message as sent (for the OpenAPI document): ``data`` holds the fields of the event
    named by ``event``, whose schema is under components/schemas by the same name."""

    seq: int
    ts: int
    topic: str
    event: str
    data: dict[str, Any]
