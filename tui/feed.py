"""The app's feed of the engine's events: one bus subscription, drained once a frame into one
``Changes``.

The app opens it once the engine runs, after the first frame: the core's events and the
gateway stream's own (``core.stream``, which brings the views and the risk modules) took 29-33 ms
of CPU to import before it, and the first frame draws without them.
"""

from __future__ import annotations

from core.events import (
    AgentDecision,
    BalancesChanged,
    CandleClosed,
    ConnectionChanged,
    Event,
    FundingPaid,
    OrderBookUpdated,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    PositionChanged,
    ProtectionChanged,
    RiskAlert,
    RiskStateChanged,
    SignalGenerated,
    TickerUpdated,
    TradePrinted,
)
from core.session import Session
from core.stream import PositionsMarked, StatusChanged, StrategyChanged, StreamSnapshot
from tui.changes import Changes

WATCHED_EVENTS: tuple[type[Event], ...] = (
    OrderBookUpdated, TradePrinted, TickerUpdated, CandleClosed, OrderUpdated, OrderFilled, FundingPaid,
    PositionChanged, ProtectionChanged, BalancesChanged, RiskStateChanged, RiskAlert, OrderRejected, AgentDecision,
    SignalGenerated, ConnectionChanged,
    # only from a gateway's stream, for an attached app
    StreamSnapshot, StatusChanged, PositionsMarked, StrategyChanged,
)


class ChangeFeed:
    def __init__(self, session: Session) -> None:
        self._subscription = session.subscribe(*WATCHED_EVENTS, maxsize=512, name="tui")

    def drain(self) -> Changes:
        """What the events since the last call changed."""
        return changes_from(self._subscription.drain())

    def close(self) -> None:
        self._subscription.close()


def changes_from(events: list[Event]) -> Changes:
    changes = Changes()
    for event in events:
        _mark(changes, event)
    return changes


def _mark(changes: Changes, event: Event) -> None:
    match event:
        case OrderBookUpdated(venue=venue, symbol=symbol):  # not the book: made when a screen reads it
            changes.books.add((venue, symbol))
        case TradePrinted(trade=trade):
            changes.trades.add((trade.venue, trade.symbol))
        case TickerUpdated(ticker=ticker):
            changes.tickers.add((ticker.venue, ticker.symbol))
        case CandleClosed(venue=venue, symbol=symbol):
            changes.candles.add((venue, symbol))
        case OrderUpdated():
            changes.orders = True
        case OrderFilled():
            changes.orders = changes.positions = True
            changes.fills.append(event)
        case FundingPaid():
            changes.funding = True
        case PositionChanged() | BalancesChanged() | ProtectionChanged():
            changes.positions = True
        case RiskStateChanged():
            changes.risk = True
        case RiskAlert():
            changes.risk = True
            changes.alerts.append(event)
        case OrderRejected():
            changes.orders = True
            changes.rejections.append(event)
        case AgentDecision():
            changes.decisions = True
        case SignalGenerated() | StrategyChanged():
            changes.signals = True
        case PositionsMarked():
            changes.positions = True
        case StatusChanged():
            changes.risk = True
        case StreamSnapshot():
            changes.everything = True
