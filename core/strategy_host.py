"""The live strategies' host: what ``core.strategies.runner.StrategyEngine`` trades through.

A strategy's order takes the same path as a person's (the executor, so the pre-trade gate,
the write before the send, the audit), under the actor ``strategy:<id>``. A strategy whose
breaker tripped is stopped here and what it left working is canceled.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from core.events import EventBus
from core.executor import OrderRefused, TradeExecutor
from core.market import MarketCache
from core.models import Instrument, Order, OrderRequest, Position
from core.orders import OrderManager
from core.portfolio import Portfolio
from core.ports import Clock

if TYPE_CHECKING:
    from core.strategies.runner import StrategyEngine

log = logging.getLogger(__name__)


class StrategyHost:
    """Implements ``core.strategies.runner.StrategyHost`` over the engine's parts."""

    def __init__(
        self, executor: TradeExecutor, orders: OrderManager, portfolio: Portfolio, market: MarketCache, clock: Clock,
        bus: EventBus,
    ) -> None:
        self.clock = clock
        self.bus = bus
        self._executor = executor
        self._orders = orders
        self._portfolio = portfolio
        self._market = market
        #: the strategy engine running on this host, once the composition root has built it
        self.strategies: StrategyEngine | None = None

    async def submit(self, request: OrderRequest) -> Order:
        """A strategy's order: the same path and risk checks as a person's, audited as the strategy."""
        return await self._executor.place_order(request, actor=f"strategy:{request.strategy_id or 'unknown'}")

    async def cancel(self, client_order_id: str) -> None:
        order = self._orders.track_order(client_order_id)
        actor = f"strategy:{order.strategy_id}" if order is not None and order.strategy_id else "strategy"
        await self._executor.cancel_order(client_order_id, actor=actor)

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        return self._orders.open_orders(venue, symbol)

    def position(self, venue: str, symbol: str) -> Position | None:
        return self._portfolio.position(venue, symbol)

    def equity(self) -> Decimal:
        return self._portfolio.equity()

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return self._executor.instrument(venue, symbol)

    def funding_rate(self, venue: str, symbol: str) -> float | None:
        """The data service's latest reading (core.marketdata)."""
        stats = self._market.stats(venue, symbol)
        return stats.funding_rate if stats is not None else None

    async def halt(self, strategy_id: str) -> None:
        """A strategy whose breaker tripped: stop it in the runner, cancel what it left working."""
        strategies = self.strategies
        if strategies is not None and any(i.strategy_id == strategy_id for i in strategies.list_strategies()):
            await strategies.stop(strategy_id)
        for order in [o for o in self._orders.open_orders() if o.strategy_id == strategy_id]:
            try:
                await self._executor.cancel_order(order.client_order_id, actor="breaker")
            except OrderRefused as exc:
                log.warning("could not cancel %s of halted strategy %s: %s", order.client_order_id, strategy_id, exc.reason)
