"""TradingEngine: starts and stops venues, reconciles, runs risk monitoring, and is the facade
through which the TUI, strategies and the command line trade.

It owns no trading rule itself: orders go through the TradeExecutor, state through the
OrderManager, limits through the RiskManager. What it adds is the life cycle: start-up
reconciliation by client order id, the background tasks, the emergency stop procedure and
an audit entry for each of these.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from core.config import AppConfig
from core.events import (
    AgentDecision,
    BalancesChanged,
    CandleClosed,
    EngineStatus,
    Event,
    EventBus,
    ExecutionReported,
    OrderFilled,
    RiskAlert,
    RiskStateChanged,
    StrategyHalted,
    TickerUpdated,
)
from core.executor import Operation, OrderRefused, TradeExecutor
from core.faults import kill_point
from core.market import MarketCache
from core.models import (
    ZERO,
    ExecutionReport,
    Fill,
    Instrument,
    Order,
    OrderRequest,
    OrderStatus,
    Position,
    ProtectiveLevels,
    RiskState,
)
from core.notify import Notifications, build_channels
from core.orders import OrderManager
from core.permissions import Level, PermissionDenied
from core.portfolio import Portfolio
from core.portfolio_state import AccountingStateError
from core.ports import Clock, ExchangeAdapter, Service, VenueError
from core.redact import redact
from core.risk import RiskManager
from core.risk.guard import SafetyGuard
from core.risk.protector import Protector
from core.storage.errors import StorageError
from core.storage.interface import Storage
from core.storage_watch import StorageWatch

__all__ = ["TradingEngine", "OrderRefused", "Operation"]

log = logging.getLogger(__name__)

MAX_RECENT_ALERTS = 200
MAX_DECISIONS = 100
BOOKED_FILLS_KEPT = 100


def with_missed_fill(order: Order, report: ExecutionReport, recorded: list[Fill] | None = None) -> ExecutionReport:
    """A report whose cumulative fill is ahead of ours, with no fill attached, means fills
    happened while we were away: record the difference as one fill, priced so that the
    order's average price matches the venue's, so positions and PnL stay right.

    ``recorded`` are the order's fills already in the database: a crash between writing a
    fill and updating its order leaves the fill ahead of the order, and it must not be
    counted twice."""
    recorded_size = sum((f.size for f in recorded or []), ZERO)
    known_size = max(order.filled_size, recorded_size)
    missed = report.filled_size - known_size
    if missed <= 0 or report.fill is not None or report.avg_price is None:
        return report
    if recorded_size > order.filled_size:
        known_cost = sum((f.price * f.size for f in recorded or []), ZERO)
    else:
        known_cost = (order.avg_price or ZERO) * order.filled_size
    price = (report.avg_price * report.filled_size - known_cost) / missed
    fill = Fill(
        fill_id=f"{order.client_order_id}:reconciled:{report.filled_size}",
        client_order_id=order.client_order_id, venue_order_id=report.venue_order_id, venue=order.venue,
        symbol=order.symbol, side=order.side, price=price, size=missed, fee=max(report.fee - order.fee, ZERO),
        ts=report.ts, strategy_id=order.strategy_id,
    )
    return report.model_copy(update={"fill": fill})


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


def split_accounting(saved: str) -> tuple[str, list[tuple[int, str]] | None]:
    """(accounting state text, the fills it holds); None for a state saved before fills were
    kept with it, whose booked fills are unknown."""
    try:
        data = json.loads(saved)
    except ValueError:
        return saved, None
    if isinstance(data, dict) and isinstance(data.get("state"), str) and isinstance(data.get("fills"), list):
        return data["state"], [(int(ts), str(fill_id)) for ts, fill_id in data["fills"]]
    return saved, None


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
        self.executor = TradeExecutor(
            self.venues, self._instruments, self.orders, self.risk, self.market,
            self.portfolio, clock, self.bus, self._audit, self.guard,
        )
        self.protection = Protector(
            config.trading, db, self.bus, clock, self.portfolio, self.executor, self.orders, self.venues, self._audit
        )
        self.strategies: Any = None
        self.services: list[Service] = []
        self._alerts: deque[RiskAlert] = deque(maxlen=MAX_RECENT_ALERTS)
        self._decisions: dict[str, AgentDecision] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._account_dirty: set[str] = set()
        self._booked_fills: deque[tuple[int, str]] = deque(maxlen=BOOKED_FILLS_KEPT)
        self._booked_known = True  # False after restoring a state saved without its fills
        self._account_wakeup = asyncio.Event()
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
        await self._restore_accounting()
        await self.orders.load_open()
        for name, venue in self.venues.items():
            for instrument in await venue.load_instruments():
                self._instruments[(name, instrument.symbol)] = instrument
                self.portfolio.register_instrument(instrument)
            await self._book_unbooked_fills(name)
            await venue.start(self.bus)
            await venue.subscribe([i.symbol for i in self.instruments(name)])
            await self.reconcile(name)
        await self.protection.restore()
        self._tasks = [
            asyncio.create_task(self._consume_reports(), name="engine-reports"),
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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.protection.drain()
        for venue in self.venues.values():
            await venue.stop()
        await self.storage.attempt("saving the accounting state", self._save_accounting())
        await self.orders.flush()
        await self.guard.drain()
        await self.storage.attempt("saving the notification queue", self.notifications.stop())
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.storage.drain()
        await self.storage.attempt("auditing the stop", self._audit("engine_stop", {}))
        self.bus.publish(EngineStatus("stopped"))
        log.info("engine stopped")

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

    async def _restore_accounting(self) -> None:
        """Today's starting equity, the drawdown peak and spot holdings outlive a restart, so a
        restart never hands out a fresh daily-loss allowance."""
        saved = await self.db.get_state("portfolio")
        if saved:
            state, booked = split_accounting(saved)
            if booked is None:
                self._booked_known = False
            else:
                self._booked_fills.extend(booked)
            try:
                self.portfolio.restore_accounting(state)
            except AccountingStateError as exc:
                log.error("saved accounting state ignored: %s", exc)
                await self._audit("accounting_state_unreadable", {"error": str(exc)})

    async def _save_accounting(self) -> None:
        """The state and the fills it holds, in one write: a crash between two writes would
        make a fill look booked when it is not, or booked twice."""
        text = json.dumps({"state": self.portfolio.accounting_state(), "fills": list(self._booked_fills)})
        await self.db.set_state("portfolio", text)

    async def _book_unbooked_fills(self, venue_name: str) -> None:
        """Fills written after the accounting state was last saved (a crash between writing a
        fill and booking it, or before the next save) are booked now, so spot positions,
        realized PnL and fees match the fills on record. The saved state lists the most recent
        fills it already holds; older fills were booked before those."""
        if not self._booked_known:
            return
        booked = {fill_id for _, fill_id in self._booked_fills}
        since = min((ts for ts, _ in self._booked_fills), default=None)
        for fill in await self.db.load_fills(venue=venue_name, since_ms=since):
            if fill.fill_id not in booked and (fill.venue, fill.symbol) in self._instruments:
                self.portfolio.apply_fill(fill)
                self._booked_fills.append((fill.ts, fill.fill_id))
                log.info("fill %s of %s booked at start-up (written before the last stop)", fill.fill_id, fill.client_order_id)

    async def _restore_risk_state(self) -> None:
        """A halt survives a restart: only a person may lift it."""
        saved = await self.db.get_state("risk_state")
        if saved and saved != RiskState.ACTIVE.value:
            reason = await self.db.get_state("risk_state_reason") or "restored after restart"
            by_person = await self.db.get_state("risk_state_by_person") == "1"
            self.risk.set_state(RiskState(saved), reason, by_person=by_person)

    # ------------------------------------------------------------- reconciliation
    async def reconcile(self, venue_name: str) -> dict[str, int]:
        """Merge the database with the venue by client order id; record what changed."""
        venue = self.venues[venue_name]
        changes = {"updated": 0, "missing": 0, "unknown_at_venue": 0}
        at_venue = {r.client_order_id: r for r in await venue.fetch_open_orders()}
        for order in list(self.orders.open_orders(venue_name)):
            report = at_venue.pop(order.client_order_id, None)
            if report is None:
                report = await venue.fetch_order(order.client_order_id, order.symbol)
            if report is None:
                reason = (
                    "never reached the venue (found at start-up)"
                    if order.status is OrderStatus.PENDING_NEW
                    else "no longer known to the venue (found at start-up)"
                )
                status = OrderStatus.REJECTED if order.status is OrderStatus.PENDING_NEW else OrderStatus.CANCELED
                await self.orders.mark(order, status, self.clock.now_ms(), reason, actor="reconcile")
                changes["missing"] += 1
                continue
            before = (order.status, order.filled_size)
            recorded = await self.orders.fills(client_order_id=order.client_order_id) if report.filled_size > order.filled_size else []
            applied = await self.orders.apply(with_missed_fill(order, report, recorded), actor="reconcile")
            kill_point("mid_reconcile")
            if applied is not None and (applied.status, applied.filled_size) != before:
                changes["updated"] += 1
        for client_order_id, report in at_venue.items():
            if await self.orders.get(client_order_id) is None:
                changes["unknown_at_venue"] += 1
                await self._audit(
                    "unknown_venue_order",
                    {"venue": venue_name, "client_order_id": client_order_id, "symbol": report.symbol,
                     "status": report.status.value},
                    "reconcile",
                )
            else:
                await self.orders.apply(report, actor="reconcile")
        await self._sync_account(venue_name)
        await self._audit("reconciled", {"venue": venue_name, **changes}, "reconcile")
        return changes

    async def _sync_account(self, venue_name: str) -> None:
        venue = self.venues[venue_name]
        balances = await venue.fetch_balances()
        self.portfolio.set_balances(venue_name, balances)
        positions = await venue.fetch_positions()
        self.portfolio.sync_positions(venue_name, positions)
        now = self.clock.now_ms()
        await self.db.snapshot_balances(venue_name, balances, now)
        await self.db.save_positions(venue_name, positions, now)
        await self._save_accounting()

    # --------------------------------------------------------------- background
    async def _consume_reports(self) -> None:
        subscription = self.bus.subscribe(ExecutionReported, name="engine-reports")
        try:
            async for event in subscription:
                assert isinstance(event, ExecutionReported)
                problem = report_problem(event.report)
                if problem is not None:
                    log.error("report for %s refused: %s", event.report.client_order_id, problem)
                    await self._audit("report_refused", {"client_order_id": event.report.client_order_id,
                                                         "problem": problem}, event.report.venue)
                    continue
                try:
                    # Written behind like the executor's: the venue is the truth once it has
                    # reported, and the fill itself is recorded durably inside ``apply``.
                    await self.orders.apply(event.report, actor=event.report.venue, durable=False)
                except StorageError as exc:  # the storage watch has halted trading; reconciliation recovers it
                    log.error("report for %s not saved: %s", event.report.client_order_id, exc)
                except Exception:
                    log.exception("could not apply report for %s", event.report.client_order_id)
        finally:
            subscription.close()

    async def _refresh_accounts(self) -> None:
        """After fills, re-read balances and positions from the venue, coalescing bursts."""
        while True:
            await self._account_wakeup.wait()
            self._account_wakeup.clear()
            dirty, self._account_dirty = self._account_dirty, set()
            for venue_name in dirty:
                try:
                    await self._sync_account(venue_name)
                except VenueError as exc:
                    log.warning("account refresh of %s failed: %s", venue_name, redact(str(exc)))

    async def _monitor(self) -> None:
        interval = self.config.risk_management.position_check_interval
        while True:
            await self.clock.sleep(interval)
            await self.check_risk()

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
            self._booked_fills.append((event.fill.ts, event.fill.fill_id))
        venue = event.fill.venue if isinstance(event, OrderFilled) else getattr(event, "venue", None)
        if isinstance(event, BalancesChanged):
            self.portfolio.set_balances(event.venue, list(event.balances))
            return
        if venue in self.venues:
            self._account_dirty.add(venue)
            self._account_wakeup.set()

    def _on_strategy_halted(self, event: Event) -> None:
        assert isinstance(event, StrategyHalted)
        self._spawn(f"halting strategy {event.strategy_id}", self._halt_strategy(event.strategy_id))

    async def _halt_strategy(self, strategy_id: str) -> None:
        """A strategy whose breaker tripped: stop it in the runner, cancel what it left working."""
        if self.strategies is not None and any(i.strategy_id == strategy_id for i in self.strategies.list_strategies()):
            await self.strategies.stop(strategy_id)
        for order in [o for o in self.orders.open_orders() if o.strategy_id == strategy_id]:
            try:
                await self.executor.cancel_order(order.client_order_id, actor="breaker")
            except OrderRefused as exc:
                log.warning("could not cancel %s of halted strategy %s: %s", order.client_order_id, strategy_id, exc.reason)

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

    # --------------------------------------------- StrategyHost (core.strategies.runner)
    async def submit(self, request: OrderRequest) -> Order:
        """A strategy's order: the same path and risk checks as a person's, audited as the strategy."""
        return await self.executor.place_order(request, actor=f"strategy:{request.strategy_id or 'unknown'}")

    async def cancel(self, client_order_id: str) -> None:
        order = self.orders.track_order(client_order_id)
        actor = f"strategy:{order.strategy_id}" if order is not None and order.strategy_id else "strategy"
        await self.executor.cancel_order(client_order_id, actor=actor)

    def position(self, venue: str, symbol: str) -> Position | None:
        return self.portfolio.position(venue, symbol)

    def equity(self) -> Decimal:
        return self.portfolio.equity()

    def recent_alerts(self) -> list[RiskAlert]:
        return list(self._alerts)

    def latest_decisions(self) -> list[AgentDecision]:
        return list(self._decisions.values())
