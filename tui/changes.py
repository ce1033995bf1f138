"""What changed since the last frame, gathered from a drained bus subscription.

The app drains the bus once per frame and hands the visible screen one ``Changes``; a burst
of a thousand book updates becomes one flag, so rendering cost follows the frame rate and
not the market's message rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
from core.stream import PositionsMarked, StatusChanged, StrategyChanged, StreamSnapshot

WATCHED_EVENTS: tuple[type[Event], ...] = (
    OrderBookUpdated, TradePrinted, TickerUpdated, CandleClosed, OrderUpdated, OrderFilled, FundingPaid,
    PositionChanged, ProtectionChanged, BalancesChanged, RiskStateChanged, RiskAlert, OrderRejected, AgentDecision,
    SignalGenerated, ConnectionChanged,
    # only from a gateway's stream, for an attached app
    StreamSnapshot, StatusChanged, PositionsMarked, StrategyChanged,
)

Market = tuple[str, str]


@dataclass
class Changes:
    everything: bool = False
    books: set[Market] = field(default_factory=set)
    trades: set[Market] = field(default_factory=set)
    tickers: set[Market] = field(default_factory=set)
    candles: set[Market] = field(default_factory=set)
    orders: bool = False
    positions: bool = False
    risk: bool = False
    decisions: bool = False
    signals: bool = False
    funding: bool = False  # a funding payment recorded
    fills: list[OrderFilled] = field(default_factory=list)
    alerts: list[RiskAlert] = field(default_factory=list)
    rejections: list[OrderRejected] = field(default_factory=list)

    @classmethod
    def all(cls) -> Changes:
        return cls(everything=True)

    @classmethod
    def from_events(cls, events: list[Event]) -> Changes:
        changes = cls()
        for event in events:
            changes.add(event)
        return changes

    def add(self, event: Event) -> None:
        match event:
            case OrderBookUpdated(book=book):
                self.books.add((book.venue, book.symbol))
            case TradePrinted(trade=trade):
                self.trades.add((trade.venue, trade.symbol))
            case TickerUpdated(ticker=ticker):
                self.tickers.add((ticker.venue, ticker.symbol))
            case CandleClosed(venue=venue, symbol=symbol):
                self.candles.add((venue, symbol))
            case OrderUpdated():
                self.orders = True
            case OrderFilled():
                self.orders = self.positions = True
                self.fills.append(event)
            case FundingPaid():
                self.funding = True
            case PositionChanged() | BalancesChanged() | ProtectionChanged():
                self.positions = True
            case RiskStateChanged():
                self.risk = True
            case RiskAlert():
                self.risk = True
                self.alerts.append(event)
            case OrderRejected():
                self.orders = True
                self.rejections.append(event)
            case AgentDecision():
                self.decisions = True
            case SignalGenerated() | StrategyChanged():
                self.signals = True
            case PositionsMarked():
                self.positions = True
            case StatusChanged():
                self.risk = True
            case StreamSnapshot():
                self.everything = True

    def market(self, venue: str, symbol: str) -> bool:
        """Did anything about this market change?"""
        key = (venue, symbol)
        return self.everything or key in self.books or key in self.trades or key in self.tickers or key in self.candles

    def any_orders(self) -> bool:
        return self.everything or self.orders

    def any_positions(self) -> bool:
        return self.everything or self.positions

    def any_risk(self) -> bool:
        return self.everything or self.risk
