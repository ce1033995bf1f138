"""What a front end reads of the engine, as one set of models: the account, the risk state,
the strategies, the status line.

The gateway answers its read requests and its stream's snapshots with these, and a client of
the gateway decodes them into the same classes; a front end running the engine in its own
process can build the very same views with the functions below. They are made of the core's
own models and dataclasses (Order, Position, Balance, LimitUsage, Trip, RiskAlert,
StrategyInfo, AgentDecision), so their schema is the core's, never a copy of it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from core.events import AgentDecision, RiskAlert
from core.models import Balance, Order, Position, ProtectiveLevels, RiskState
from core.perpetuals import account_modes
from core.risk.breakers import Trip
from core.risk.gauges import LimitUsage
from core.strategies.info import StrategyInfo

if TYPE_CHECKING:
    from core.engine import TradingEngine


class View(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class VenueStatus(View):
    name: str
    mode: str
    connection: str
    latency_ms: float | None = None
    markets: int
    account: str | None = None  # the position and margin modes the venue set, where it sets them


class StatusView(View):
    """The status line: engine, venues, equity, today's PnL, risk state and what is open; with
    what the terminal's status bar and Risk screen show of the risk state (who halted it, what
    blocks new exposure, the orders counted today, the limits' use)."""

    engine: str
    now_ms: int
    default_venue: str
    venues: list[VenueStatus]
    quote_currency: str
    equity: Decimal
    daily_pnl: Decimal
    risk_state: RiskState
    risk_reason: str
    open_orders: int
    positions: int
    halted_by_person: bool = False
    blockers: list[tuple[str, str]] = []
    orders_today: int = 0
    max_orders_per_day: int = 0
    limits: list[LimitUsage] = []
    breakers: list[Trip] = []


class PositionView(Position):
    """A position with its protective levels (None when nobody set any): where each came
    from and whether it rests at the exchange or is watched by the engine."""

    levels: ProtectiveLevels | None = None

    @property
    def stop_loss(self) -> Decimal | None:
        return self.levels.stop_loss if self.levels is not None else None

    @property
    def take_profit(self) -> Decimal | None:
        return self.levels.take_profit if self.levels is not None else None


class VenueBalances(View):
    venue: str
    balances: list[Balance]


class RiskView(View):
    state: RiskState
    reason: str
    limits: list[LimitUsage]
    breakers: list[Trip]
    alerts: list[RiskAlert]


class AccountSnapshot(View):
    """Everything a front end mirrors, taken at one moment (no await while it is built), so a
    stream client applies the events that follow it without a gap or a repeat."""

    status: StatusView
    balances: list[VenueBalances]
    positions: list[PositionView]
    orders: list[Order]
    risk: RiskView
    strategies: list[StrategyInfo]
    decisions: list[AgentDecision]


def status_view(engine: TradingEngine) -> StatusView:
    venues = []
    for name in engine.venue_names:
        connection, latency = engine.market.connection(name)
        venues.append(VenueStatus(name=name, mode=engine.venue_mode(name), connection=connection,
                                  latency_ms=latency, markets=len(engine.instruments(name)),
                                  account=account_modes(engine.venues[name])))
    portfolio = engine.portfolio
    open_orders = engine.open_orders()
    surveillance = engine.guard.surveillance
    return StatusView(
        engine="running" if engine.running else "stopped", now_ms=engine.clock.now_ms(),
        default_venue=engine.default_venue, venues=venues, quote_currency=portfolio.quote_currency,
        equity=portfolio.equity(), daily_pnl=portfolio.daily_pnl(), risk_state=engine.risk.state,
        risk_reason=engine.risk.state_reason, open_orders=len(open_orders),
        positions=len(portfolio.positions()), halted_by_person=engine.risk.halted_by_person,
        blockers=[(b.rule or "", b.reason or "") for b in engine.guard.blockers(open_orders)],
        orders_today=surveillance.orders_today(), max_orders_per_day=surveillance.max_per_day,
        limits=engine.risk.limits_usage(open_orders), breakers=list(engine.guard.breakers.tripped.values()),
    )


def positions_view(engine: TradingEngine, venue: str | None = None) -> list[PositionView]:
    views = []
    for position in engine.portfolio.positions(venue):
        levels = engine.protection.levels(position.venue, position.symbol)
        views.append(PositionView(**dict(position), levels=levels if levels is not None and not levels.empty else None))
    return views


def balances_view(engine: TradingEngine, venue: str | None = None) -> list[VenueBalances]:
    names = [venue] if venue is not None else engine.venue_names
    return [VenueBalances(venue=name, balances=engine.portfolio.balances(name)) for name in names]


def risk_view(engine: TradingEngine) -> RiskView:
    return RiskView(
        state=engine.risk.state, reason=engine.risk.state_reason,
        limits=engine.risk.limits_usage(engine.open_orders()),
        breakers=list(engine.guard.breakers.tripped.values()), alerts=engine.recent_alerts(),
    )


def strategies_view(engine: TradingEngine) -> list[StrategyInfo]:
    """The loaded strategies; none while the engine runs without its services."""
    return list(engine.strategies.list_strategies()) if engine.strategies is not None else []


def account_snapshot(engine: TradingEngine) -> AccountSnapshot:
    return AccountSnapshot(
        status=status_view(engine), balances=balances_view(engine), positions=positions_view(engine),
        orders=engine.open_orders(), risk=risk_view(engine), strategies=strategies_view(engine),
        decisions=engine.latest_decisions(),
    )
