"""OrderManager: the one owner of order state.

Every change goes through the order's state machine, is written to the database (a row and an
order event, audited) and then published. Execution reports may arrive twice, late or out of
order; ``apply`` is idempotent: fills are deduplicated by fill id, cumulative sizes only grow,
and a status that would move an order backwards is ignored. A report reaches it by two routes
(the venue's answer to the executor's call, and the venue's stream on the bus, which may carry
the same report): each distinct report is applied once, whichever route brings it first.

Reconciliation books, as one fill of its own, what the venue filled that we have not heard of;
the venue's own report of those fills may still come afterwards. So an order's booked fills
never add up to more than the venue says it filled: a fill past that is already accounted for,
and is written to the order's history as such instead of being booked again. Reconciliation of
a venue also runs alone (``reconciling``): no report of that venue is applied meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict, deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from core.events import EventBus, OrderFilled, OrderUpdated
from core.faults import kill_point
from core.models import ZERO, ExecutionReport, Fill, Order, OrderStatus
from core.storage.errors import DuplicateOrderError, StorageError
from core.working import WorkingOrders

log = logging.getLogger(__name__)

RECENT_ORDERS = 4096
_VALUE = {status: status.value for status in OrderStatus}  # looked up: ``.value`` is a descriptor call
APPLIED_KEPT = 4096  # reports remembered as applied: a second copy arrives within moments


def report_identity(report: ExecutionReport) -> tuple[object, ...]:
    """What makes two reports the same report: equal in everything ``apply`` reads."""
    fill = report.fill
    return (report.client_order_id, report.venue, report.status, report.filled_size, report.avg_price, report.fee,
            report.venue_order_id, report.reason, report.ts, fill.fill_id if fill is not None else None)


@dataclass
class Booked:
    """The fills booked for one order: their total, and their ids to tell a copy of one of them
    (ignored, as the database ignores it) from a fill that would take the total past the venue's."""

    size: Decimal = ZERO
    ids: set[str] = field(default_factory=set)

    def add(self, fill: Fill) -> None:
        self.size += fill.size
        self.ids.add(fill.fill_id)


class VenueGate:
    """Reports of one venue are applied side by side; its reconciliation runs alone (but for the
    reports it applies itself). A reconciliation reads the venue's state and books what it finds
    missing, so a report applied between that read and the booking would be booked twice.
    Entering takes no turn of the event loop while no reconciliation runs or waits."""

    def __init__(self) -> None:
        self.holder: asyncio.Task[Any] | None = None  # the reconciling task
        self._applying = 0
        self._idle = asyncio.Event()  # no report being applied
        self._idle.set()
        self._open = asyncio.Event()  # no reconciliation running or waiting for the reports in hand
        self._open.set()

    @property
    def open(self) -> bool:
        """No reconciliation runs or waits: a report applied without a turn of the event loop
        (``OrderManager.apply``'s usual case) needs no count of its own."""
        return self._open.is_set()

    async def enter(self) -> None:
        while not self._open.is_set():
            await self._open.wait()
        self._applying += 1
        self._idle.clear()

    def leave(self) -> None:
        self._applying -= 1
        if not self._applying:
            self._idle.set()

    @asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        while not self._open.is_set():
            await self._open.wait()
        self._open.clear()
        try:
            while self._applying:
                await self._idle.wait()
            self.holder = asyncio.current_task()
            yield
        finally:
            self.holder = None
            self._open.set()


class DuplicateOrderId(ValueError):
    """The client order id was used before: sending it again could duplicate an order."""


class OrderStore(Protocol):
    def queue_order(
        self, order: Order, event: str, detail: str | None = None, actor: str = "engine", *, new: bool = False,
        lazy: bool = False,
    ) -> asyncio.Future[None]: ...

    async def get_order(self, client_order_id: str) -> Order | None: ...

    async def load_orders(
        self, *, open_only: bool = False, venue: str | None = None, symbol: str | None = None,
        strategy_id: str | None = None, status: Sequence[str] | None = None,
        since_ms: int | None = None, until_ms: int | None = None, limit: int | None = None,
    ) -> list[Order]: ...

    async def record_fill(self, fill: Fill) -> bool: ...

    async def load_fills(
        self, *, venue: str | None = None, symbol: str | None = None, strategy_id: str | None = None,
        client_order_id: str | None = None, since_ms: int | None = None, until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[Fill]: ...


class FillSink(Protocol):
    def apply_fill(self, fill: Fill, leverage: int | None = None) -> Any: ...


class OrderManager:
    def __init__(self, store: OrderStore, bus: EventBus, portfolio: FillSink) -> None:
        self._store = store
        self._bus = bus
        self._portfolio = portfolio
        self._orders: dict[str, Order] = {}
        self._recent: OrderedDict[str, Order] = OrderedDict()
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # the status rows written behind, in the order queued (so committed in that order), until
        # seen committed: each looked at when a later one is queued and by ``flush``
        self._behind: deque[tuple[str, asyncio.Future[None]]] = deque()
        self._applied: OrderedDict[tuple[object, ...], None] = OrderedDict()
        # for the orders in ``_orders`` and ``_recent``; None for an order placed here that has
        # no fill booked yet (most of them never will: made at its first fill)
        self._booked: dict[str, Booked | None] = {}
        self._gates: defaultdict[str, VenueGate] = defaultdict(VenueGate)
        self._working = WorkingOrders()

    async def load_open(self) -> list[Order]:
        """Bring open orders from the database into memory (start-up, before reconciliation)."""
        orders = await self._store.load_orders(open_only=True)
        for order in orders:
            self._orders[order.client_order_id] = order
            self._working.update(order)
        return orders

    async def record_new(self, order: Order, actor: str = "engine", verdict: str | None = None) -> None:
        """Write the order as pending_new; when this returns the order is durable. A client
        order id seen before is refused by the write itself, so two callers cannot both win.
        ``verdict`` (the risk decision) goes into the same audited row."""
        coid = order.client_order_id
        if coid in self._orders or coid in self._recent:
            raise DuplicateOrderId(f"client order id {coid} is already in use")
        self._orders[coid] = order
        self._booked[coid] = None
        self._working.update(order)
        try:  # the write's own future, awaited: durable once it resolves
            await self._store.queue_order(order, "created", detail=verdict, actor=actor, new=True)
        except StorageError as exc:  # not written, so never sent: it must not look open either
            self._orders.pop(coid, None)
            self._booked.pop(coid, None)
            self._working.discard(coid)
            if isinstance(exc, DuplicateOrderError):
                raise DuplicateOrderId(f"client order id {coid} is already in use") from None
            raise
        self._bus.publish(OrderUpdated(order.copy_with(), None))

    def track_order(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def working(self) -> WorkingOrders:
        """The open orders with their totals per market and side, kept as each one changes."""
        return self._working

    async def get(self, client_order_id: str) -> Order | None:
        known = self._orders.get(client_order_id) or self._recent.get(client_order_id)
        return known or await self._store.get_order(client_order_id)

    def _retire(self, order: Order) -> None:
        """A finished order leaves the working set but stays at hand for late, duplicate
        reports, which would otherwise each cost a database read."""
        self._orders.pop(order.client_order_id, None)
        self._working.discard(order.client_order_id)
        self._locks.pop(order.client_order_id, None)
        self._recent[order.client_order_id] = order
        if len(self._recent) > RECENT_ORDERS:
            forgotten, _ = self._recent.popitem(last=False)
            self._booked.pop(forgotten, None)

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        return [
            o
            for o in self._orders.values()
            if o.is_open and (venue is None or o.venue == venue) and (symbol is None or o.symbol == symbol)
        ]

    @asynccontextmanager
    async def reconciling(self, venue: str) -> AsyncIterator[None]:
        """Hold off every report of ``venue`` but the ones this task applies, once those already
        being applied are done: for a reconciliation, between its read of the venue and its
        booking of what it read."""
        async with self._gates[venue].alone():
            yield

    async def apply(self, report: ExecutionReport, actor: str = "venue", *, durable: bool = True) -> Order | None:
        """Fold a venue report into its order. With ``durable=False`` the status row is written
        behind (in order, per order) instead of awaited: after an order has reached the venue
        the venue is the truth, and start-up reconciliation restores any status row a crash
        lost, so the acknowledgement need not wait for a second fsync."""
        identity = report_identity(report)
        coid = report.client_order_id
        if identity in self._applied:  # the second route's copy, after the first was applied in full
            known = self._orders.get(coid) or self._recent.get(coid)
            if known is not None:
                return known
        gate = self._gates[report.venue]
        order = self._orders.get(coid)
        if order is not None and report.fill is None and not durable and coid not in self._locks and gate.open:
            # The usual report (a working order's new status): applied without a turn of the
            # event loop, so it needs neither the order's lock (no task holds it: only a task
            # that awaits while applying takes one) nor a count in the venue's gate.
            self._announce(order, self._fold(order, report, actor, lazy=True))
            self._done(order, identity)
            return order
        if gate.holder is not None and gate.holder is asyncio.current_task():
            return await self._apply(report, identity, actor, durable)
        await gate.enter()
        try:
            return await self._apply(report, identity, actor, durable)
        finally:
            gate.leave()

    async def _apply(
        self, report: ExecutionReport, identity: tuple[object, ...], actor: str, durable: bool
    ) -> Order | None:
        async with self._locks[report.client_order_id]:
            order = await self.get(report.client_order_id)
            if order is None:
                log.warning("report for unknown order %s at %s ignored", report.client_order_id, report.venue)
                return None
            if identity in self._applied:
                return order
            if order.is_open:
                self._orders[order.client_order_id] = order
            if report.fill is not None:
                await self._apply_fill(order, report, report.fill, actor)
            folded = self._fold(order, report, actor, lazy=not durable)
            if durable and folded is not None:
                await folded[0]
            self._announce(order, folded)
            self._done(order, identity)
            return order

    def _fold(
        self, order: Order, report: ExecutionReport, actor: str, *, lazy: bool
    ) -> tuple[asyncio.Future[None], str] | None:
        """Merge the report into the order and queue its status row when it changed: the row's
        write and the previous status, or None."""
        changed = self._merge(order, report)
        self._working.update(order)
        if not changed:
            return None
        previous, event = changed
        return self._write_behind(order, event, report.reason, actor, lazy=lazy), previous

    def _announce(self, order: Order, folded: tuple[asyncio.Future[None], str] | None) -> None:
        if folded is not None:
            self._bus.publish(OrderUpdated(order.copy_with(), folded[1]))

    def _done(self, order: Order, identity: tuple[object, ...]) -> None:
        """The report is applied: a finished order is retired, the report remembered."""
        if not order.is_open:
            self._retire(order)
        self._applied[identity] = None
        if len(self._applied) > APPLIED_KEPT:
            self._applied.popitem(last=False)

    def _write_behind(
        self, order: Order, event: str, detail: str | None, actor: str, *, lazy: bool = False
    ) -> asyncio.Future[None]:
        """Queue a status row (the order is serialised now, so it may change afterwards); the
        writer commits an order's rows in the order they were queued. The rows queued before it
        that have committed since are let go here, not by a callback on each write: a callback
        is a Handle and a turn of the loop's queue, ~1.8 us a write, one or two an order."""
        write = self._store.queue_order(order, event, detail=detail, actor=actor, lazy=lazy)
        behind = self._behind
        while behind and behind[0][1].done():
            self._let_go(*behind.popleft())
        behind.append((order.client_order_id, write))
        return write

    @staticmethod
    def _let_go(client_order_id: str, write: asyncio.Future[None]) -> None:
        """A status row written behind has committed, or failed: then said so."""
        if not write.cancelled() and write.exception() is not None:
            log.error("order %s: status row not saved: %s", client_order_id, write.exception())

    async def flush(self) -> None:
        """Wait for every status row written behind (before closing the database)."""
        behind = self._behind
        while behind:
            await asyncio.gather(*(write for _, write in behind), return_exceptions=True)
            while behind and behind[0][1].done():
                self._let_go(*behind.popleft())

    async def _apply_fill(self, order: Order, report: ExecutionReport, fill: Fill, actor: str) -> None:
        """Book the fill unless it is booked already: by its id, or in the fill a reconciliation
        booked for what it found filled at the venue (the booked total would pass the venue's
        cumulative filled size). The second case is written to the order's history."""
        booked = await self._booked_for(order)
        if fill.fill_id in booked.ids:
            return
        venue_filled = max(order.filled_size, report.filled_size)
        if booked.size + fill.size > venue_filled:
            detail = (f"fill {fill.fill_id} of {fill.size} at {fill.price} already accounted for: "
                      f"{booked.size} booked of {venue_filled} filled at the venue")
            log.warning("order %s: %s", order.client_order_id, detail)
            booked.ids.add(fill.fill_id)
            await self._write_behind(order, "fill_already_booked", detail, actor)
            return
        if fill.strategy_id is None and order.strategy_id is not None:
            fill = fill.model_copy(update={"strategy_id": order.strategy_id})
        if await self._store.record_fill(fill):
            booked.add(fill)
            kill_point("after_fill_record")
            self._portfolio.apply_fill(fill, order.leverage)
            self._bus.publish(OrderFilled(fill))

    async def _booked_for(self, order: Order) -> Booked:
        """The order's booked fills, read from the database the first time they are needed (an
        order from before a restart, or one no longer kept in memory)."""
        coid = order.client_order_id
        if coid not in self._booked:
            booked = Booked()
            for fill in await self._store.load_fills(client_order_id=coid):
                booked.add(fill)
            if coid in self._orders or coid in self._recent:
                self._booked[coid] = booked
            return booked
        known = self._booked[coid]
        if known is None:  # placed here, its first fill
            known = self._booked[coid] = Booked()
        return known

    def _merge(self, order: Order, report: ExecutionReport) -> tuple[str, str] | None:
        """Fold the report into the order; return (previous status, event name) if it changed."""
        previous = order.status
        grew = order.take_fill_totals(report.filled_size, report.avg_price, report.fee)
        if report.venue_order_id and not order.venue_order_id:
            order.venue_order_id = report.venue_order_id
        target = report.status
        if target != previous and order.can_transition(target):
            order.transition(target, report.ts, report.reason)
            return _VALUE[previous], _VALUE[target]
        if target == previous == OrderStatus.PARTIALLY_FILLED and grew:
            order.updated_ts = report.ts
            return _VALUE[previous], "partially_filled"
        if target != previous:
            log.debug("order %s: stale report %s ignored in %s", order.client_order_id, target, previous)
        elif grew:
            order.updated_ts = report.ts
            return _VALUE[previous], "fill"
        return None

    async def amended(self, order: Order, price: Decimal | None, size: Decimal, ts: int, actor: str) -> Order:
        """The venue changed a resting order in place: its price and total size now, a row and
        an event like any other change of it (same client order id, same place in the books)."""
        async with self._locks[order.client_order_id]:
            detail = f"price {order.price} -> {price}, size {order.size} -> {size}"
            if price is not None:
                order.price = price
            order.size = size
            order.updated_ts = ts
            self._working.update(order)
            await self._write_behind(order, "amended", detail, actor)
            self._bus.publish(OrderUpdated(order.copy_with(), order.status.value))
            return order

    async def mark(self, order: Order, status: OrderStatus, ts: int, reason: str, actor: str = "engine") -> Order:
        """Move an order by the engine's own decision (reconciliation, refusal after persist)."""
        async with self._locks[order.client_order_id]:
            previous = order.status
            order.transition(status, ts, reason)
            self._working.update(order)
            await self._write_behind(order, status.value, reason, actor)
            self._bus.publish(OrderUpdated(order.copy_with(), previous.value))
            if not order.is_open:
                self._retire(order)
            return order

    async def get_order_history(self, **filters: Any) -> list[Order]:
        await self.flush()  # history agrees with what the engine already knows
        return await self._store.load_orders(**filters)

    async def fills(self, **filters: Any) -> list[Fill]:
        return await self._store.load_fills(**filters)
