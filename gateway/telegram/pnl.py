"""P&L by strategy over the current UTC day or week, for /pnl.

The only place the bot reads P&L by strategy, from one call the engine offers today: the order
manager's performance report over a strategy's fills (average cost per market, realized net of
fees, days and Monday-based weeks in UTC), and each strategy's open P&L now. When the accounting
moves into one ledger, this module is what changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from core.models import ZERO
from core.orders import DAY_MS
from core.views import strategies_view

if TYPE_CHECKING:
    from core.engine import TradingEngine

PERIODS = {"day": ("daily", DAY_MS), "week": ("weekly", 7 * DAY_MS)}


@dataclass(frozen=True)
class StrategyPnl:
    strategy_id: str
    realized: Decimal  # in the period, net of fees
    fees: Decimal
    fills: int
    unrealized: Decimal  # now


async def _period(engine: TradingEngine, period: str, strategy_id: str | None) -> tuple[Decimal, Decimal, int]:
    name, span = PERIODS[period]
    now = engine.clock.now_ms()
    rows = await engine.orders.calculate_performance(name, strategy_id=strategy_id)
    current = next((row for row in rows if row.period_start <= now < row.period_start + span), None)
    return (current.realized_pnl, current.fees, current.fills) if current is not None else (ZERO, ZERO, 0)


async def strategy_pnl(engine: TradingEngine, period: str) -> tuple[list[StrategyPnl], StrategyPnl]:
    """Each loaded strategy's P&L in ``period`` ("day" or "week"), and that of all fills
    (strategies' and by hand)."""
    rows = []
    for info in strategies_view(engine):
        realized, fees, fills = await _period(engine, period, info.strategy_id)
        rows.append(StrategyPnl(info.strategy_id, realized, fees, fills, info.unrealized_pnl))
    realized, fees, fills = await _period(engine, period, None)
    return rows, StrategyPnl("", realized, fees, fills, ZERO)
