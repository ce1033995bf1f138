"""The in-process session: the engine runs in the front end's own event loop, and every read and
command is the engine's own (``core.session.Session``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.ports import Capability

if TYPE_CHECKING:  # the engine's modules load with the engine, after the app's first frame
    from core.config import AgentsConfig, TradingConfig, UIConfig
    from core.engine import TradingEngine
    from core.events import AgentDecision, Event, RiskAlert, Subscription
    from core.models import (
        Balance,
        Candle,
        Fill,
        FundingPayment,
        Instrument,
        MarketStats,
        Order,
        OrderBook,
        OrderRequest,
        Position,
        ProtectiveLevels,
        RiskState,
        Ticker,
        Trade,
    )
    from core.risk.gate import Refusal
    from core.risk.gauges import LimitUsage
    from core.storage.audit import AuditEntry
    from core.strategies.info import StrategyInfo

EngineFactory = Callable[[], Awaitable["TradingEngine"]]
ServicesAttacher = Callable[["TradingEngine"], Awaitable[None]]


class LocalSession:
    """``attach_services`` adds what ``engine_factory`` left out (``runtime.wiring.attach_services``
    for an engine built with ``services=False``), called by the app once its first screen has
    painted."""

    attached = False
    where = "in this process"

    def __init__(self, engine_factory: EngineFactory, attach_services: ServicesAttacher | None = None) -> None:
        self._factory = engine_factory
        self._attach_services = attach_services
        self._services_started = attach_services is None
        self._engine: TradingEngine | None = None

    @property
    def engine(self) -> TradingEngine:
        if self._engine is None:
            raise RuntimeError("the engine is not started yet")
        return self._engine

    # -- life -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._engine = await self._factory()  # closed by close() even when starting fails
        await self._engine.start()

    async def start_services(self) -> None:
        if self._attach_services is not None and not self._services_started:
            await self._attach_services(self.engine)
        self._services_started = True

    @property
    def services_started(self) -> bool:
        return self._services_started

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.close()

    def subscribe(self, *kinds: type[Event], maxsize: int, name: str) -> Subscription:
        return self.engine.bus.subscribe(*kinds, maxsize=maxsize, name=name)

    @property
    def connection_state(self) -> str:
        return "connected"

    # -- settings -------------------------------------------------------------------------------
    @property
    def trading(self) -> TradingConfig:
        return self.engine.config.trading

    @property
    def ui(self) -> UIConfig:
        return self.engine.config.ui

    @property
    def agents(self) -> AgentsConfig:
        return self.engine.config.agents

    def now_ms(self) -> int:
        return self.engine.clock.now_ms()

    async def get_state(self, key: str) -> str | None:
        return await self.engine.db.get_state(key)

    async def set_state(self, key: str, value: str) -> None:
        await self.engine.db.set_state(key, value)

    # -- venues and markets ---------------------------------------------------------------------
    @property
    def venue_names(self) -> list[str]:
        return self.engine.venue_names

    @property
    def default_venue(self) -> str:
        return self.engine.default_venue

    def venue_mode(self, venue: str) -> str:
        return self.engine.venue_mode(venue)

    def confirm_live(self, venue: str) -> None:
        # A live exchange refuses new orders until told that a person typed the go-ahead.
        adapter = self.engine.venues[venue]
        if adapter.supports(Capability.LIVE_CONFIRMATION):
            adapter.confirm_live()

    def instruments(self, venue: str) -> list[Instrument]:
        return self.engine.instruments(venue)

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return self.engine.instrument(venue, symbol)

    def watch_market(self, venue: str, symbol: str) -> None:
        """The engine keeps every market's data already."""

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        return self.engine.market.book(venue, symbol)

    def ticker(self, venue: str, symbol: str) -> Ticker | None:
        return self.engine.market.ticker(venue, symbol)

    def trades(self, venue: str, symbol: str) -> list[Trade]:
        return self.engine.market.trades(venue, symbol)

    def candles(self, venue: str, symbol: str, timeframe: str) -> list[Candle]:
        return self.engine.market.candles(venue, symbol, timeframe)

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        return self.engine.market.mark(venue, symbol)

    def market_stats(self, venue: str, symbol: str) -> MarketStats | None:
        return self.engine.market.stats(venue, symbol)

    def connection(self, venue: str) -> tuple[str, float | None]:
        return self.engine.market.connection(venue)

    # -- the account ----------------------------------------------------------------------------
    @property
    def quote_currency(self) -> str:
        return self.engine.portfolio.quote_currency

    @property
    def maintenance_margin_rate(self) -> Decimal:
        return self.engine.portfolio.maintenance_margin_rate

    def equity(self) -> Decimal:
        return self.engine.portfolio.equity()

    def daily_pnl(self) -> Decimal:
        return self.engine.portfolio.daily_pnl()

    def positions(self) -> list[Position]:
        return self.engine.portfolio.positions()

    def position(self, venue: str, symbol: str) -> Position | None:
        return self.engine.portfolio.position(venue, symbol)

    def leverage_in_use(self, venue: str, symbol: str) -> tuple[int, str]:
        return self.engine.portfolio.leverage_in_use(venue, symbol)

    def balances(self, venue: str) -> list[Balance]:
        return self.engine.portfolio.balances(venue)

    def asset_value(self, venue: str, asset: str, amount: Decimal) -> Decimal | None:
        return self.engine.portfolio.asset_value(venue, asset, amount)

    def levels(self, venue: str, symbol: str) -> ProtectiveLevels | None:
        return self.engine.protection.levels(venue, symbol)

    def holds_protective_orders(self, venue: str, symbol: str) -> bool:
        return self.engine.venues[venue].holds_protective_orders(symbol)

    def watched_levels(self) -> list[ProtectiveLevels]:
        return self.engine.protection.watched()

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        return self.engine.open_orders(venue, symbol)

    async def order_history(self, limit: int) -> list[Order]:
        return await self.engine.order_history(limit=limit)

    async def fills(self, limit: int) -> list[Fill]:
        return await self.engine.fills(limit=limit)

    async def all_fills(self) -> list[Fill]:
        return await self.engine.db.load_fills()

    async def all_funding(self) -> list[FundingPayment]:
        return await self.engine.db.load_funding()

    async def audit_entries(self, kind: str | None = None, limit: int = 100) -> list[AuditEntry]:
        return await self.engine.db.audit_entries(kind=kind, limit=limit)

    # -- risk -----------------------------------------------------------------------------------
    @property
    def risk_state(self) -> RiskState:
        return self.engine.risk.state

    @property
    def halted_by_person(self) -> bool:
        return self.engine.risk.halted_by_person

    def blockers(self) -> list[tuple[str, str]]:
        return [(b.rule or "", b.reason or "") for b in self.engine.guard.blockers(self.engine.open_orders())]

    def tripped_breakers(self) -> list[tuple[str, str]]:
        return [(trip.scope, trip.reason) for trip in self.engine.guard.breakers.tripped.values()]

    def limits_usage(self) -> list[LimitUsage]:
        return self.engine.risk.limits_usage(self.engine.open_orders())

    def orders_today(self) -> tuple[int, int]:
        surveillance = self.engine.guard.surveillance
        return surveillance.orders_today(), surveillance.max_per_day

    def recent_alerts(self) -> list[RiskAlert]:
        return self.engine.recent_alerts()

    # -- agents and strategies ------------------------------------------------------------------
    def latest_decisions(self) -> list[AgentDecision]:
        return self.engine.latest_decisions()

    def strategies(self) -> list[StrategyInfo] | None:
        runner = self.engine.strategies
        return list(runner.list_strategies()) if runner is not None else None

    async def start_strategy(self, strategy_id: str) -> None:
        await self._runner().start(strategy_id)

    async def stop_strategy(self, strategy_id: str) -> None:
        await self._runner().stop(strategy_id)

    async def set_strategy_params(self, strategy_id: str, params: dict[str, Any], note: str = "") -> None:
        await self._runner().set_params(strategy_id, params, note=note)

    def _runner(self) -> Any:
        runner = self.engine.strategies
        if runner is None:
            raise RuntimeError("the strategies are not loaded yet")
        return runner

    # -- checks ---------------------------------------------------------------------------------
    async def check_order(self, request: OrderRequest) -> Refusal | None:
        return self.engine.executor.precheck(request)

    async def check_cancel(self) -> Refusal | None:
        return self.engine.executor.precheck_cancel()

    def check_modify(self, client_order_id: str, price: Decimal | None, size: Decimal | None) -> Refusal | None:
        return self.engine.executor.precheck_modify(client_order_id, price=price, size=size)

    def closing_request(self, venue: str, symbol: str) -> OrderRequest | None:
        return self.engine.executor.closing_request(venue, symbol)

    # -- commands -------------------------------------------------------------------------------
    async def place_order(self, request: OrderRequest) -> Order:
        return await self.engine.place_order(request)

    async def modify_order(self, client_order_id: str, *, price: Decimal | None, size: Decimal | None) -> Order:
        return await self.engine.modify_order(client_order_id, price=price, size=size)

    async def cancel_order(self, client_order_id: str) -> Order:
        return await self.engine.cancel_order(client_order_id)

    async def cancel_all(self) -> int:
        return await self.engine.cancel_all()

    async def close_position(self, venue: str, symbol: str) -> Order | None:
        return await self.engine.close_position(venue, symbol)

    async def close_all(self) -> int:
        return await self.engine.close_all()

    async def set_protection(self, venue: str, symbol: str, *, stop_loss: Decimal | None,
                             take_profit: Decimal | None) -> ProtectiveLevels | None:
        return await self.engine.set_protection(venue, symbol, stop_loss=stop_loss, take_profit=take_profit)

    async def emergency_stop(self, reason: str) -> None:
        await self.engine.emergency_stop(reason)

    async def reset_risk(self) -> None:
        await self.engine.reset_risk("user")
