"""TradingEngine: starts and stops venues, runs risk monitoring, and is the facade through
which the TUI, the gateway and the command line trade.

It owns no trading rule itself: orders go through the TradeExecutor (and its pre-trade gate),
state through the OrderManager, reconciliation through ``core.reconcile``, the booked fills
through ``core.journal``, the strategies' orders through ``core.strategy_host``. What it adds
is the life cycle: the start-up order, the background tasks, the emergency stop procedure and
an audit entry for each of these.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import Counter, deque
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.config import AppConfig
from core.events import (
    AgentDecision,
    BalancesChanged,
    CandleClosed,
    EngineStatus,
    Event,
    EventBus,
    ExecutionReported,
    FundingReported,
    OrderFilled,
    RiskAlert,
    RiskStateChanged,
    StrategyHalted,
    Subscription,
    TickerUpdated,
)
from core.executor import Operation, OrderRefused, TradeExecutor
from core.funding import FundingRecorder
from core.journal import FillJournal
from core.market import MarketCache
from core.models import (
    ExecutionReport,
    Fill,
    Instrument,
    Order,
    OrderRequest,
    Position,
    ProtectiveLevels,
    RiskState,
)
from core.notify import Notifications, build_channels
from core.orders import OrderManager
from core.permissions import Level, PermissionDenied
from core.portfolio import Portfolio
from core.ports import Clock, ExchangeAdapter, Service, VenueError
from core.reconcile import Reconciler
from core.redact import redact
from core.risk import RiskManager
from core.risk.gate import PreTradeGate
from core.risk.guard import SafetyGuard
from core.risk.protector import Protector
from core.storage.errors import StorageError
from core.storage.interface import Storage
from core.storage_watch import StorageWatch
from core.strategy_host import StrategyHost

if TYPE_CHECKING:
    from core.strategies.runner import StrategyEngine

__all__ = ["TradingEngine", "OrderRefused", "Operation"]

log = logging.getLogger(__name__)

MAX_RECENT_ALERTS = 200


def report_problem(report: ExecutionReport) -> str | None:
    """Why a venue's report cannot be applied as it stands, or None. A fill that names another
    order or market would be written against the wrong order and never reach the portfolio."""
    fill = report.fill
    if fill is None:
        return None
    if (fill.client_order_id, fill.venue, fill.symbol) != (report.client_order_id, report.venue, report.symbol):
        return (f"its fill {fill.fill_id} is for {fill.client_order_id} {fill.symbol} on {fill.venue}, "
                f"the report for {report.client_order_id} {report.symbol} on {report.venue}")
    if fill.size <= 0 or fill.price <= 0:
        return f"its fill {fill.fill_id} has size {fill.size} at price {fill.price}"
    return None


class ReportBacklog:
    """The reports of each venue the engine's report consumer has received and not yet applied,
    counted while it reads: a reconciliation waits for those, so a fill the venue reported before
    it was asked is booked from its report, under its own fill id, and not found missing."""

    def __init__(self) -> None:
        self._received: Counter[str] = Counter()
        self._done: Counter[str] = Counter()
        self._progress = asyncio.Event()
        self._reading = False

    def open(self) -> None:
        self._reading = True

    def close(self) -> None:
        """The consumer stopped: what it had not applied will not be, so nobody waits for it."""
        self._reading = False
        self._done = self._received.copy()
        self._progress.set()

    def received(self, event: Event) -> None:
        if self._reading:
            assert isinstance(event, ExecutionReported)
            self._received[event.report.venue] += 1

    def done(self, venue: str) -> None:
        self._done[venue] += 1
        self._progress.set()

    async def settled(self, venue: str) -> None:
        """Return once the reports of ``venue`` received so far are done."""
        target = self._received[venue]
        while True:
            self._progress.clear()
            if self._done[venue] >= target:
                return
            await self._progress.wait()


class TradingEngine:
    def __init__(
        self,
        config: AppConfig,
        db: Storage,
        venues: Mapping[str, ExchangeAdapter],
        clock: Clock,
        bus: EventBus | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self.bus = bus or EventBus()
        self.venues: dict[str, ExchangeAdapter] = dict(venues)
        self.market = MarketCache(self.bus)
        self.portfolio = Portfolio(clock, bus=self.bus, default_leverage=config.trading.default_leverage)
        self.risk = RiskManager(
            config.risk_management, config.trading, self.portfolio, self.bus, clock, on_emergency=self._flatten
        )
        self.orders = OrderManager(db, self.bus, self.portfolio)
        self.storage = StorageWatch(db, self.risk, self.bus, clock)
        self._instruments: dict[tuple[str, str], Instrument] = {}
        self.guard = SafetyGuard(config, self.bus, clock, self.portfolio, self.market, self.risk, db, self._audit)
        self.notifications = Notifications(
            config.notifications, build_channels(config.notifications), self.bus, clock, db, db.audit_head
        )
        self.gate = PreTradeGate(
            self.risk, safety=self.guard, market=self.market, venues=self.venues,
            instruments=self._instruments, open_orders=self.orders.working,
        )
        self.executor = TradeExecutor(
            self.venues, self._instruments, self.orders, self.gate, self.portfolio, clock, self.bus, self._audit,
            self.guard,
        )
        self.protection = Protector(
            config.trading, db, self.bus, clock, self.portfolio, self.executor, self.orders, self.venues, self._audit
        )
        self.journal = FillJournal(db, self.portfolio, self._audit)
        self.reconciler = Reconciler(self.venues, self.orders, self.portfolio, db, clock, self._audit, self.journal.save)
        self.funding = FundingRecorder(db, self.bus, self.venues, clock)
        self.host = StrategyHost(self.executor, self.orders, self.portfolio, self.market, clock, self.bus)
        self.services: list[Service] = []
        self._alerts: deque[RiskAlert] = deque(maxlen=MAX_RECENT_ALERTS)
        self._decisions: dict[str, AgentDecision] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._account_dirty: set[str] = set()
        self._account_wakeup = asyncio.Event()
        self._backlog = ReportBacklog()
        self._inbox: Subscription | None = None  # the reports the consumer reads
        self._running = False
        # start, stop and add_service one at a time: a service added while the engine starts or
        # stops is neither started twice nor left running after the stop.
        self._lifecycle = asyncio.Lock()
        self.bus.add_listener((TickerUpdated,), self._on_ticker)
        self.bus.add_listener((RiskStateChanged,), self._on_risk_state)
        self.bus.add_listener((RiskAlert,), self._on_alert)
        self.bus.add_listener((OrderFilled, BalancesChanged), self._on_account_event)
        self.bus.add_listener((AgentDecision,), self._on_decision)
        self.bus.add_listener((CandleClosed,), self._on_candle)
        self.bus.add_listener((StrategyHalted,), self._on_strategy_halted)
        self.bus.add_listener((FundingReported,), self._on_funding)
        self.bus.add_listener((ExecutionReported,), self._backlog.received)

    @property
    def strategies(self) -> StrategyEngine | None:
        """The strategy engine trading through ``host`` (set by the composition root)."""
        return self.host.strategies

    @strategies.setter
    def strategies(self, strategies: StrategyEngine | None) -> None:
        self.host.strategies = strategies

    # ----------------------------------------------------------------- life cycle
    @property
    def running(self) -> bool:
        return self._running

    @property
    def venue_names(self) -> list[str]:
        return list(self.venues)

    @property
    def default_venue(self) -> str:
        return self.config.default_venue if self.config.default_venue in self.venues else next(iter(self.venues))

    def venue_mode(self, venue: str) -> str:
        return self.venues[venue].mode

    async def start(self) -> None:
        """A start that fails (a venue unreachable, bad credentials) undoes what it started, so
        the caller can close the engine and the process can exit."""
        async with self._lifecycle:
            try:
                await self._start()
            except BaseException:
                await (self._stop() if self._running else self._abandon_start())
                raise

    async def _abandon_start(self) -> None:
        """Stop the venues and the notifier that a failed start may have started. Nothing is
        saved: the accounting state was still being restored."""
        await self._cancel_tasks()
        for venue in self.venues.values():
            try:
                await venue.stop()
            except Exception as exc:  # noqa: BLE001 - the start's own error is the one to report
                log.warning("venue %s did not stop cleanly after the failed start: %s", venue.name, exc)
        await self.notifications.stop()

    async def _start(self) -> None:
        self.bus.publish(EngineStatus("starting"))
        await self._audit("engine_start", {"venues": {n: v.mode for n, v in self.venues.items()}})
        await self._audit_config()
        await self._restore_risk_state()
        await self.guard.restore()
        await self.notifications.start()
        await self.journal.restore()
        await self.orders.load_open()
        # Reports are read from before the first venue starts: one that comes while the engine is
        # still starting (a venue filling an order while the next one loads its markets) is
        # applied, not lost until the next start-up's reconciliation.
        self._inbox = self.bus.subscribe(ExecutionReported, name="engine-reports")
        self._backlog.open()
        self._tasks = [asyncio.create_task(self._consume_reports(self._inbox), name="engine-reports")]
        for name, venue in self.venues.items():
            for instrument in await venue.load_instruments():
                self._instruments[(name, instrument.symbol)] = instrument
                self.portfolio.register_instrument(instrument)
            await self.journal.book_unbooked(name, self._instruments)
            await venue.start(self.bus)
            await venue.subscribe([i.symbol for i in self.instruments(name)])
            await self.reconcile(name)
        await self.protection.restore()
        self._tasks += [
            asyncio.create_task(self._monitor(), name="engine-risk-monitor"),
            asyncio.create_task(self._refresh_accounts(), name="engine-accounts"),
            asyncio.create_task(self.storage.run(), name="engine-storage-watch"),
        ]
        self._running = True
        for service in self.services:
            await service.start()
        self.bus.publish(EngineStatus("running"))
        log.info("engine running with venues %s", ", ".join(self.venues))

    async def add_service(self, service: Service) -> None:
        """Run ``service`` beside the engine: started by ``start``, or at once when the engine
        already runs (the TUI adds the strategies and agents after its first frame), and stopped
        by ``stop`` before the venues either way. Services start in the order they are added."""
        async with self._lifecycle:
            self.services.append(service)
            if self._running:
                await service.start()
                log.info("%s started on the running engine", type(service).__name__)

    async def stop(self) -> None:
        async with self._lifecycle:
            await self._stop()

    async def _stop(self) -> None:
        if not self._running:
            return
        self._running = False
        self.bus.publish(EngineStatus("stopping"))
        for service in reversed(self.services):
            await self.storage.attempt(f"stopping {type(service).__name__}", service.stop())
        await self._cancel_tasks()
        await self.protection.drain()
        for venue in self.venues.values():
            await venue.stop()
        await self.storage.attempt("saving the accounting state", self.journal.save())
        await self.orders.flush()
        await self.guard.drain()
        await self.storage.attempt("saving the notification queue", self.notifications.stop())
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.storage.drain()
        await self.storage.attempt("auditing the stop", self._audit("engine_stop", {}))
        self.bus.publish(EngineStatus("stopped"))
        log.info("engine stopped")

    async def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._close_inbox()  # a consumer canceled before it ran has not closed it

    async def _audit_config(self) -> None:
        """Record the configuration in force, and whether it changed since the last run."""
        digest = hashlib.sha256(self.config.model_dump_json().encode()).hexdigest()
        previous = await self.db.get_state("config_sha256")
        kind = "config_loaded" if previous in (None, digest) else "config_changed"
        await self._audit(kind, {"sha256": digest, "previous_sha256": previous,
                                 "risk_management": self.config.risk_management.model_dump(mode="json")})
        await self.db.set_state("config_sha256", digest)

    async def close(self) -> None:
        """Stop, then close the database (even if the stop failed): the end of the engine's life."""
        try:
            await self.stop()
        finally:
            await self.db.close()

    async def _restore_risk_state(self) -> None:
        """A halt survives a restart: only a person may lift it."""
        saved = await self.db.get_state("risk_state")
        if saved and saved != RiskState.ACTIVE.value:
            reason = await self.db.get_state("risk_state_reason") or "restored after restart"
            by_person = await self.db.get_state("risk_state_by_person") == "1"
            self.risk.set_state(RiskState(saved), reason, by_person=by_person)

    # ------------------------------------------------------------- reconciliation
    async def reconcile(self, venue_name: str) -> dict[str, int]:
        """Merge the database with the venue by client order id (``core.reconcile``), and record
        the funding it paid since the last payment on record (``core.funding``). The venue's
        reports already received are applied first, and none is applied while it reads the
        venue and books what it read: a fill is never both reported and found missing."""
        await self._backlog.settled(venue_name)
        changes = await self.reconciler.reconcile(venue_name)
        await self.funding.catch_up(venue_name)
        return changes

    # --------------------------------------------------------------- background
    async def _consume_reports(self, subscription: Subscription) -> None:
        try:
            async for event in subscription:
                assert isinstance(event, ExecutionReported)
                try:
                    await self._apply_reported(event.report)
                finally:
                    self._backlog.done(event.report.venue)
        finally:
            self._close_inbox()

    def _close_inbox(self) -> None:
        """Stop reading reports; whoever waits for the ones received stops waiting."""
        if self._inbox is not None:
            self._inbox.close()
            self._inbox = None
        self._backlog.close()

    async def _apply_reported(self, report: ExecutionReport) -> None:
        problem = report_problem(report)
        if problem is not None:
            log.error("report for %s refused: %s", report.client_order_id, problem)
            await self._audit("report_refused", {"client_order_id": report.client_order_id, "problem": problem},
                              report.venue)
            return
        try:
            # Written behind like the executor's: the venue is the truth once it has
            # reported, and the fill itself is recorded durably inside ``apply``.
            await self.orders.apply(report, actor=report.venue, durable=False)
        except StorageError as exc:  # the storage watch has halted trading; reconciliation recovers it
            log.error("report for %s not saved: %s", report.client_order_id, exc)
        except Exception:
            log.exception("could not apply report for %s", report.client_order_id)

    async def _refresh_accounts(self) -> None:
        """After fills, re-read balances and positions from the venue, coalescing bursts."""
        while True:
            await self._account_wakeup.wait()
            self._account_wakeup.clear()
            dirty, self._account_dirty = self._account_dirty, set()
            for venue_name in dirty:
                try:
                    await self.reconciler.sync_account(venue_name)
                except VenueError as exc:
                    log.warning("account refresh of %s failed: %s", venue_name, redact(str(exc)))

    async def _monitor(self) -> None:
        interval = self.config.risk_management.position_check_interval
        while True:
            await self.clock.sleep(interval)
            await self.check_risk()
            if self.funding.due():
                self._spawn("reading funding payments", self.funding.poll())

    async def check_risk(self) -> None:
        """One pass of position monitoring: breakers and alerts. A drawdown past
        emergency_stop_loss makes the risk manager call ``_flatten`` itself. Stop-losses and
        take-profits are not checked here but on every mark update (``_on_ticker``)."""
        self.guard.check()
        self.risk.monitor_positions()

    # ---------------------------------------------------------------- listeners
    def _on_ticker(self, event: Event) -> None:
        assert isinstance(event, TickerUpdated)
        mark = self.market.mark(event.ticker.venue, event.ticker.symbol)
        if mark is not None:
            self.portfolio.update_mark(event.ticker.venue, event.ticker.symbol, mark)
            self.protection.on_mark(event.ticker.venue, event.ticker.symbol)

    def _on_risk_state(self, event: Event) -> None:
        assert isinstance(event, RiskStateChanged)
        self._spawn("saving the risk state", self._persist_risk_state(event))

    async def _persist_risk_state(self, event: RiskStateChanged) -> None:
        await self.db.set_state("risk_state", event.new.value)
        await self.db.set_state("risk_state_reason", event.reason)
        await self.db.set_state("risk_state_by_person", "1" if event.by_person else "0")
        await self._audit("risk_state", {"old": event.old.value, "new": event.new.value, "reason": event.reason}, "risk")

    def _on_alert(self, event: Event) -> None:
        assert isinstance(event, RiskAlert)
        self._alerts.append(event)

    def _on_account_event(self, event: Event) -> None:
        if isinstance(event, OrderFilled):
            self.journal.booked(event.fill)
        venue = event.fill.venue if isinstance(event, OrderFilled) else getattr(event, "venue", None)
        if isinstance(event, BalancesChanged):
            self.portfolio.set_balances(event.venue, list(event.balances))
            return
        if venue in self.venues:
            self._account_dirty.add(venue)
            self._account_wakeup.set()

    def _on_strategy_halted(self, event: Event) -> None:
        assert isinstance(event, StrategyHalted)
        self._spawn(f"halting strategy {event.strategy_id}", self.host.halt(event.strategy_id))

    def _on_funding(self, event: Event) -> None:
        self._spawn("recording a funding payment", self.funding.on_reported(event))

    def _on_candle(self, event: Event) -> None:
        """Closed candles are kept: the daily review and `agents analyze` test on them."""
        assert isinstance(event, CandleClosed)
        if self._running:
            candles = self.db.save_candles(event.venue, event.symbol, event.timeframe, [event.candle])
            self._spawn("saving a candle", candles)

    def _on_decision(self, event: Event) -> None:
        assert isinstance(event, AgentDecision)
        self._decisions[event.symbol] = event

    def _spawn(self, what: str, coro: Any) -> None:
        """Run ``coro`` beside the listener that started it; a storage failure in it is logged
        (the storage watch has halted trading for it), not left in a task nobody reads."""
        task = asyncio.get_running_loop().create_task(self.storage.attempt(what, coro))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _audit(self, kind: str, payload: dict[str, Any], actor: str = "engine") -> Any:
        return await self.db.audit(kind, payload, actor=actor, ts=self.clock.now_ms())

    # ------------------------------------------------------------------ facade
    def instruments(self, venue: str) -> list[Instrument]:
        return [i for (v, _), i in self._instruments.items() if v == venue]

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return self.executor.instrument(venue, symbol)

    async def place_order(self, request: OrderRequest, *, actor: str = "user") -> Order:
        return await self.executor.place_order(request, actor=actor)

    async def cancel_order(self, client_order_id: str, *, actor: str = "user") -> Order:
        return await self.executor.cancel_order(client_order_id, actor=actor)

    async def modify_order(
        self, client_order_id: str, *, price: Decimal | None = None, size: Decimal | None = None, actor: str = "user"
    ) -> Order:
        return await self.executor.modify_order(client_order_id, price=price, size=size, actor=actor)

    async def close_position(self, venue: str, symbol: str, size: Decimal | None = None, *, actor: str = "user") -> Order | None:
        return await self.executor.close_position(venue, symbol, size, actor=actor)

    async def set_protection(
        self, venue: str, symbol: str, *, stop_loss: Decimal | None, take_profit: Decimal | None, actor: str = "user"
    ) -> ProtectiveLevels | None:
        """Set (None: remove) the stop-loss and take-profit of the open position on a market.
        Raises ProtectionRefused with the reason, PermissionDenied for a read-only profile."""
        await self.authorize("setting stop-loss and take-profit levels", actor, Level.TRADE)
        return await self.protection.set_levels(venue, symbol, stop_loss, take_profit, actor=actor)

    async def cancel_all(self, venue: str | None = None, symbol: str | None = None, *, actor: str = "user") -> int:
        await self._audit("cancel_all", {"venue": venue, "symbol": symbol}, actor)
        return await self.executor.cancel_all(venue, symbol, actor=actor)

    async def close_all(self, *, actor: str = "user") -> int:
        await self._audit("close_all", {}, actor)
        return await self.executor.close_all(actor=actor)

    async def batch_operations(self, operations: list[Operation], *, actor: str = "user") -> Any:
        return await self.executor.batch_operations(operations, actor=actor)

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        return self.orders.open_orders(venue, symbol)

    async def order_history(self, **filters: Any) -> list[Order]:
        return await self.orders.get_order_history(**filters)

    async def fills(self, **filters: Any) -> list[Fill]:
        return await self.orders.fills(**filters)

    async def emergency_stop(self, reason: str, *, actor: str = "user") -> None:
        """Halt first (nothing new passes); the risk manager then calls ``_flatten``."""
        await self.authorize("the emergency stop", actor, Level.TRADE)
        await self._audit("emergency_stop", {"reason": reason}, actor)
        await self.risk.emergency_stop(reason)

    async def _flatten(self, reason: str, actor: str = "risk") -> None:
        """Cancel every order and close every position, past the (halted) risk gate."""
        canceled = await self.executor.cancel_all(actor=actor)
        closed = await self.executor.close_all(actor=actor, risk_exempt=f"emergency stop: {reason}")
        await self._audit("flattened", {"canceled": canceled, "closed": closed, "reason": reason}, actor)

    async def reset_risk(self, actor: str = "user") -> None:
        """Trade again: lifts the circuit breakers too. Admin only (PermissionDenied otherwise)."""
        await self.authorize("resetting the risk state", actor)
        await self.guard.reset(actor)
        await self._audit("risk_reset", {"from": self.risk.state.value}, actor)
        self.risk.reset(actor)

    async def authorize(self, action: str, actor: str = "user", needed: Level = Level.ADMIN) -> None:
        """Raise PermissionDenied (audited) unless the profile in force may do ``action``:
        admin for switching to live, changing limits, resets."""
        denied = self.guard.permit(actor, action, needed)
        if denied is not None:
            await self._audit("permission_denied", {"action": action, "reason": denied}, actor)
            raise PermissionDenied(denied)

    def position(self, venue: str, symbol: str) -> Position | None:
        return self.portfolio.position(venue, symbol)

    def equity(self) -> Decimal:
        return self.portfolio.equity()

    def recent_alerts(self) -> list[RiskAlert]:
        return list(self._alerts)

    def latest_decisions(self) -> list[AgentDecision]:
        return list(self._decisions.values())
