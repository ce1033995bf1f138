"""The account as a remote front end keeps it: the stream's snapshot, then each event applied
in the order the gateway numbered them.

Only the account lives here (orders, positions, balances, risk, strategies, decisions, the
status line); market data (books, trades, tickers, candles) is better fed to a
``core.market.MarketCache`` on a local ``EventBus``, which keeps it exactly as the engine's own
cache does.
"""

from __future__ import annotations

from collections import deque

from core.events import (
    AgentDecision,
    BalancesChanged,
    Event,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    PositionChanged,
    ProtectionChanged,
    RiskAlert,
    RiskStateChanged,
)
from core.models import Balance, Fill, Order
from core.strategies.info import StrategyInfo
from core.stream import PositionsMarked, StatusChanged, StrategyChanged, StreamSnapshot
from core.views import AccountSnapshot, PositionView, RiskView, StatusView

RECENT = 200


class Mirror:
    def __init__(self) -> None:
        self.status: StatusView | None = None
        self.orders: dict[str, Order] = {}
        self.positions: dict[tuple[str, str], PositionView] = {}
        self.balances: dict[str, list[Balance]] = {}
        self.risk: RiskView | None = None
        self.strategies: dict[str, StrategyInfo] = {}
        self.decisions: dict[str, AgentDecision] = {}
        self.fills: deque[Fill] = deque(maxlen=RECENT)
        self.rejections: deque[OrderRejected] = deque(maxlen=RECENT)
        self.snapshots = 0

    def reset(self, snapshot: AccountSnapshot) -> None:
        self.status = snapshot.status
        self.orders = {order.client_order_id: order for order in snapshot.orders}
        self.positions = {(p.venue, p.symbol): p for p in snapshot.positions}
        self.balances = {entry.venue: list(entry.balances) for entry in snapshot.balances}
        self.risk = snapshot.risk
        self.strategies = {info.strategy_id: info for info in snapshot.strategies}
        self.decisions = {decision.symbol: decision for decision in snapshot.decisions}
        self.snapshots += 1

    def apply(self, event: Event | None) -> None:
        """One event, as decoded from the stream (None, a message this client does not know, is
        ignored); market data is ignored too."""
        match event:
            case StreamSnapshot(snapshot=snapshot):
                self.reset(snapshot)
            case OrderUpdated(order=order):
                if order.is_open:
                    self.orders[order.client_order_id] = order
                else:
                    self.orders.pop(order.client_order_id, None)
            case OrderFilled(fill=fill):
                self.fills.append(fill)
            case OrderRejected():
                self.rejections.append(event)
            case PositionChanged(position=position, closed=closed):
                key = (position.venue, position.symbol)
                if closed:
                    self.positions.pop(key, None)
                else:
                    known = self.positions.get(key)
                    self.positions[key] = PositionView(**dict(position), levels=known.levels if known else None)
            case ProtectionChanged(venue=venue, symbol=symbol, levels=levels):
                held = self.positions.get((venue, symbol))
                if held is not None:
                    self.positions[(venue, symbol)] = held.model_copy(
                        update={"levels": levels if levels is not None and not levels.empty else None})
            case PositionsMarked(positions=positions):
                self.positions = {(p.venue, p.symbol): p for p in positions}
            case BalancesChanged(venue=venue, balances=balances):
                self.balances[venue] = list(balances)
            case RiskStateChanged(new=new, reason=reason) if self.risk is not None:
                self.risk = self.risk.model_copy(update={"state": new, "reason": reason})
            case RiskAlert() if self.risk is not None:
                self.risk = self.risk.model_copy(update={"alerts": [*self.risk.alerts, event][-RECENT:]})
            case AgentDecision(symbol=symbol):
                self.decisions[symbol] = event
            case StrategyChanged(strategy=info):
                self.strategies[info.strategy_id] = info
            case StatusChanged(status=status):
                self.status = status
