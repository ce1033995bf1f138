"""The safety checks in front of the risk limits: permission (who), breakers (is trading halted, is
this strategy stopped), surveillance (is this order abnormal), dynamic risk (is new exposure paused
or cut). ``core.risk.gate`` runs them in their place among the other checks. A breaker trip halts
the risk state (account and system level) or stops one strategy, raises a critical RiskAlert (which
the notifier forwards), and is audited. Tripped breakers survive a restart and only an admin can
reset them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from core.config import AppConfig
from core.events import EventBus, RiskAlert, StrategyHalted
from core.market import MarketCache
from core.models import Instrument, Order, OrderRequest, RiskState
from core.permissions import Level, PermissionDenied, Permissions
from core.portfolio import DAY_MS, Portfolio
from core.ports import Clock
from core.risk.breakers import BreakerLevel, CircuitBreakers, Trip
from core.risk.dynamic import DynamicRisk
from core.risk.manager import RiskManager
from core.risk.rules import RiskCheckResult
from core.risk.surveillance import Surveillance
from core.working import WorkingOrders

log = logging.getLogger(__name__)

AuditFn = Callable[[str, dict[str, Any], str], Awaitable[Any]]
STATE_KEY = "circuit_breakers"


class StateStore(Protocol):
    async def get_state(self, key: str) -> str | None: ...

    async def set_state(self, key: str, value: str) -> None: ...

    async def load_orders(self, *, since_ms: int | None = None) -> list[Order]: ...


class SafetyGuard:
    def __init__(
        self,
        config: AppConfig,
        bus: EventBus,
        clock: Clock,
        portfolio: Portfolio,
        market: MarketCache,
        risk: RiskManager,
        store: StateStore,
        audit: AuditFn,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._market = market
        self._risk = risk
        self._store = store
        self._audit = audit
        self.permissions = Permissions(config.permissions)
        self.breakers = CircuitBreakers(
            config.circuit_breakers, config.risk_management, portfolio, bus, clock, self._on_trip
        )
        self.surveillance = Surveillance(config.surveillance, config.circuit_breakers, portfolio, bus, clock)
        self.dynamic = DynamicRisk(config.dynamic_risk, config.risk_management, portfolio, bus, clock)
        self._pending: set[asyncio.Task[Any]] = set()

    # -- life cycle ---------------------------------------------------------------------------

    async def restore(self) -> None:
        """Breakers tripped before a restart stay tripped; today's order count carries over."""
        saved = await self._store.get_state(STATE_KEY)
        if saved:
            try:
                self.breakers.restore(Trip.from_dict(item) for item in json.loads(saved))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("saved circuit breaker state unreadable (%s): trading stays halted", exc)
                self.breakers.trip(BreakerLevel.SYSTEM, "state_unreadable", "system",
                                   "the saved circuit breaker state could not be read")
        now = self._clock.now_ms()
        day = now // DAY_MS
        today = await self._store.load_orders(since_ms=day * DAY_MS)
        self.surveillance.count_day(day, len(today))
        if self.breakers.halted and self._risk.state is not RiskState.HALTED:
            self._risk.set_state(RiskState.HALTED, "circuit breaker tripped before the restart")

    async def drain(self) -> None:
        """Wait for the audit entries and state writes that trips started."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # -- the order path -----------------------------------------------------------------------

    def permit(self, actor: str, action: str, needed: Level = Level.TRADE) -> str | None:
        try:
            self.permissions.require(needed, action, actor)
        except PermissionDenied as exc:
            return exc.reason
        return None

    def screen(
        self, request: OrderRequest, instrument: Instrument, working: WorkingOrders, *, reduces: bool,
        dry_run: bool = False,
    ) -> tuple[str, str] | None:
        """(reason, rule) when breakers, surveillance or dynamic risk refuse the order; ``reduces``:
        it can only shrink its position. ``dry_run``: the check before a confirmation, which
        counts no attempt and stops nothing."""
        market = working.market(request.venue, request.symbol)
        # only the other side's orders can be traded with (self-trade); the orders in flight
        # beside this one are mostly on its own side, and the book (made on its first read)
        # is only read to check a market order against them
        side = request.side
        opposite = side.opposite
        resting = ([o for o in market.orders.values() if o.side is opposite]
                   if market is not None and market.has_side(opposite) else [])
        book = self._market.book(request.venue, request.symbol) if resting else None
        abnormal = self.surveillance.screen(request, resting, book, reduces=reduces, dry_run=dry_run)
        if not dry_run:
            self._stop_runaways()
        verdict = self.breakers.blocks(request, reduces=reduces) or abnormal
        if verdict is not None:
            return verdict
        return self.dynamic.screen(request, instrument, self._market.mark(request.venue, request.symbol), working,
                                   reduces=reduces)

    def blockers(self, open_orders: list[Order]) -> list[RiskCheckResult]:
        """Every limit that refuses new exposure right now, whatever the order: the risk state
        and limits, tripped breakers, the daily order count and rate limit, a macro pause.
        Orders that only reduce a position pass all of them but a halt by a person."""
        found = self._risk.blockers(open_orders)
        for trip in self.breakers.tripped.values():
            if trip.level is not BreakerLevel.STRATEGY:
                found.append(RiskCheckResult.reject(f"breaker {trip.rule}", trip.reason))
        paused = self.dynamic.macro_pause()
        for reason, rule in [*self.surveillance.blockers(), *([paused] if paused else [])]:
            found.append(RiskCheckResult.reject(rule, reason))
        return found

    def placed(self, request: OrderRequest) -> None:
        self.surveillance.placed(request)

    def venue_result(self, venue: str, ok: bool) -> None:
        self.breakers.venue_result(venue, ok)

    def check(self) -> None:
        """The periodic pass (the engine's risk monitor): breakers and runaway strategies."""
        self.breakers.check()
        self._stop_runaways()

    def _stop_runaways(self) -> None:
        if not self.surveillance.runaways:  # every order checked asks: no list taken for nothing
            return
        for strategy_id, reason in self.surveillance.take_runaways():
            self.breakers.trip(BreakerLevel.STRATEGY, "runaway", strategy_id, f"runaway strategy: {reason}")

    # -- trips and resets ---------------------------------------------------------------------

    def _on_trip(self, trip: Trip) -> None:
        if trip.level is BreakerLevel.STRATEGY:
            self._bus.publish(StrategyHalted(trip.scope, trip.reason, trip.ts))
        else:
            self._risk.set_state(RiskState.HALTED, f"circuit breaker {trip.rule}: {trip.reason}")
        self._bus.publish(RiskAlert("critical", f"breaker:{trip.rule}", trip.reason, ts=trip.ts))
        self._later(self._record_trip(trip))

    async def _record_trip(self, trip: Trip) -> None:
        await self._audit("breaker_tripped", trip.to_dict(), "breaker")
        await self._save()

    async def _save(self) -> None:
        await self._store.set_state(STATE_KEY, json.dumps([t.to_dict() for t in self.breakers.tripped.values()]))

    def _later(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            log.error("a circuit breaker tripped outside the event loop; its audit entry is missing")
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def reset(self, actor: str) -> list[Trip]:
        """An admin's decision to lift every breaker; audited, refused below admin."""
        denied = self.permit(actor, "resetting circuit breakers", Level.ADMIN)
        if denied is not None:
            await self._audit("permission_denied", {"action": "reset_breakers", "reason": denied}, actor)
            raise PermissionDenied(denied)
        await self.drain()
        cleared = self.breakers.reset()
        self.surveillance.forget()
        for trip in cleared:
            await self._audit("breaker_reset", trip.to_dict(), actor)
        await self._save()
        return cleared
