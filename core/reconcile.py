"""Reconciliation: the orders the database holds as open, merged with what the venue says about
them, by client order id; then the venue's balances and positions taken as the truth.

At start-up (and whenever asked) an order the venue does not know either never reached it (it
was still pending_new: rejected) or is gone (canceled); one ahead of us at the venue gets the
fills we missed as one fill at the price that makes its average the venue's; an order the venue
has and the database does not is audited, never adopted.

A reconciliation runs alone for its venue (``OrderManager.reconciling``; the engine first lets
the reports it has already received be applied): a report applied between its read of the venue
and its booking would have its fill both reported and found missing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from core.faults import kill_point
from core.models import ZERO, Balance, ExecutionReport, Fill, Order, OrderStatus, Position
from core.orders import OrderManager
from core.portfolio import Portfolio
from core.ports import Clock, ExchangeAdapter

AuditFn = Callable[[str, dict[str, Any], str], Awaitable[Any]]


class AccountStore(Protocol):
    async def snapshot_balances(self, venue: str, balances: list[Balance], ts: int) -> None: ...

    async def save_positions(self, venue: str, positions: list[Position], ts: int) -> None: ...


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


class Reconciler:
    def __init__(
        self,
        venues: Mapping[str, ExchangeAdapter],
        orders: OrderManager,
        portfolio: Portfolio,
        store: AccountStore,
        clock: Clock,
        audit: AuditFn,
        save_accounting: Callable[[], Awaitable[None]],
    ) -> None:
        self._venues = venues
        self._orders = orders
        self._portfolio = portfolio
        self._store = store
        self._clock = clock
        self._audit = audit
        self._save_accounting = save_accounting

    async def reconcile(self, venue_name: str) -> dict[str, int]:
        """Merge the database with the venue by client order id; record what changed."""
        async with self._orders.reconciling(venue_name):
            changes = await self._merge(venue_name)
        await self._audit("reconciled", {"venue": venue_name, **changes}, "reconcile")
        return changes

    async def _merge(self, venue_name: str) -> dict[str, int]:
        """``reconcile`` while no report of the venue is applied: what it reads from the venue
        and what it books from that are about the same orders and fills."""
        venue = self._venues[venue_name]
        changes = {"updated": 0, "missing": 0, "unknown_at_venue": 0}
        at_venue = {r.client_order_id: r for r in await venue.fetch_open_orders()}
        for order in list(self._orders.open_orders(venue_name)):
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
                await self._orders.mark(order, status, self._clock.now_ms(), reason, actor="reconcile")
                changes["missing"] += 1
                continue
            before = (order.status, order.filled_size)
            recorded = await self._orders.fills(client_order_id=order.client_order_id) if report.filled_size > order.filled_size else []
            applied = await self._orders.apply(with_missed_fill(order, report, recorded), actor="reconcile")
            kill_point("mid_reconcile")
            if applied is not None and (applied.status, applied.filled_size) != before:
                changes["updated"] += 1
        for client_order_id, report in at_venue.items():
            if await self._orders.get(client_order_id) is None:
                changes["unknown_at_venue"] += 1
                await self._audit(
                    "unknown_venue_order",
                    {"venue": venue_name, "client_order_id": client_order_id, "symbol": report.symbol,
                     "status": report.status.value},
                    "reconcile",
                )
            else:
                await self._orders.apply(report, actor="reconcile")
        await self.sync_account(venue_name)
        return changes

    async def sync_account(self, venue_name: str) -> None:
        """The venue's balances and positions into the portfolio and the database."""
        venue = self._venues[venue_name]
        balances = await venue.fetch_balances()
        self._portfolio.set_balances(venue_name, balances)
        positions = await venue.fetch_positions()
        self._portfolio.sync_positions(venue_name, positions)
        now = self._clock.now_ms()
        await self._store.snapshot_balances(venue_name, balances, now)
        await self._store.save_positions(venue_name, positions, now)
        await self._save_accounting()
