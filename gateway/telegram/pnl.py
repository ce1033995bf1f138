"""P&L by strategy over the current UTC day or week, for /pnl: the performance report's
(``core.reports``: the stored fills through the one ledger, realized net of fees, days and
Monday-based weeks in UTC) for each loaded strategy and all fills, and each strategy's open P&L
now."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from core.models import ZERO
from core.reports import build_report, contract_sizes
from core.views import strategies_view

if TYPE_CHECKING:
    from core.engine import TradingEngine

PERIODS = ("day", "week")


@dataclass(frozen=True)
class StrategyPnl:
    strategy_id: str
    realized: Decimal  # in the period, net of fees and funding
    fees: Decimal
    fills: int
    unrealized: Decimal  # now


async def strategy_pnl(engine: TradingEngine, period: str) -> tuple[list[StrategyPnl], StrategyPnl]:
    """Each loaded strategy's P&L in ``period`` ("day" or "week"), and that of all fills
    (strategies' and by hand)."""
    loaded = strategies_view(engine)
    report = build_report(await engine.db.load_fills(), period, engine.clock.now_ms(), mark=engine.portfolio.mark,
                          contract_size=contract_sizes(engine.portfolio.instrument),
                          strategies=[info.strategy_id for info in loaded], funding=await engine.db.load_funding())
    figures = {row.name: row for row in report.strategies}
    rows = [StrategyPnl(info.strategy_id, figures[info.strategy_id].net, figures[info.strategy_id].fees,
                        figures[info.strategy_id].fills, info.unrealized_pnl) for info in loaded]
    total = report.total
    assert total is not None  # a report of every strategy has its total
    return rows, StrategyPnl("", total.net, total.fees, total.fills, ZERO)
