"""How much of each limit is in use: the gauges of the risk screen."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.config import RiskConfig
from core.models import ZERO, Order
from core.portfolio import Portfolio
from core.risk.exposure import projected_exposure
from core.risk.rules import daily_loss_limit
from core.working import WorkingOrders


@dataclass(frozen=True)
class LimitUsage:
    name: str
    used: Decimal
    limit: Decimal
    unit: str

    @property
    def fraction(self) -> float:
        """Share of the limit used, 0..1; a limit of zero or less reads as full."""
        if self.limit <= 0:
            return 1.0
        return max(0.0, min(1.0, float(self.used / self.limit)))


def limits_usage(
    config: RiskConfig, portfolio: Portfolio, open_orders: list[Order]
) -> list[LimitUsage]:
    """One gauge per open position, then total exposure (working orders included), daily loss,
    open positions, account leverage and drawdown."""
    quote = portfolio.quote_currency
    equity = max(portfolio.equity(), ZERO)
    per_position = min(config.max_position_size, equity * Decimal(str(config.max_position_pct)))
    usage = [
        LimitUsage(f"position {p.symbol}", portfolio.exposure(p.venue, p.symbol), per_position, quote)
        for p in portfolio.positions()
    ]
    total = sum(projected_exposure(portfolio, WorkingOrders.of(open_orders)).values(), ZERO)
    usage.append(LimitUsage("total exposure", total, equity * Decimal(str(config.max_total_exposure_pct)), quote))
    limit = daily_loss_limit(config, portfolio.start_of_day_equity())
    usage.append(LimitUsage("daily loss", max(-portfolio.daily_pnl(), ZERO), limit, quote))
    usage.append(LimitUsage("open positions", Decimal(len(portfolio.positions())), Decimal(config.max_open_positions), ""))
    leverage = portfolio.exposure() / equity if equity > 0 else ZERO
    usage.append(LimitUsage("leverage", leverage, Decimal(config.max_leverage), "x"))
    drawdown = Decimal(str(round(portfolio.drawdown() * 100, 4)))
    usage.append(LimitUsage("drawdown", drawdown, Decimal(str(config.emergency_stop_loss)) * 100, "%"))
    return usage
