"""TradeExecutor: the only path from an intent to an order at a venue.

request -> the pre-trade gate (``core.risk.gate``: permission, validation against the instrument,
breakers, surveillance, risk limits, in that order) -> written as pending_new (durable) -> venue
-> acknowledgement applied. A failure after the write never re-sends blindly: the
order is looked up at the venue by its client order id first.

``precheck`` runs the same checks without side effects (no attempt counted, nothing written),
so a screen can show a refusal before it asks for a confirmation; the placement checks again,
as things may have changed while the dialog was open.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

from core.events import EventBus, OrderRejected
from core.faults import kill_point
from core.models import (
    Instrument,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
)
from core.orders import DuplicateOrderId, OrderManager
from core.perpetuals import PerpetualVenue
from core.ports import Capability, Clock, ExchangeAdapter, VenueError
from core.redact import redact
from core.risk.gate import PreTradeGate, Refusal
from core.storage.errors import StorageError

log = logging.getLogger(__name__)


class OrderRefused(Exception):
    """The request was refused before reaching a venue; ``reason`` is for the trader."""

    def __init__(self, reason: str, rule: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


class PositionSource(Protocol):
    def position(self, venue: str, symbol: str) -> Any: ...

    def positions(self, venue: str | None = None) -> list[Any]: ...


AuditFn = Callable[[str, dict[str, Any], str], Awaitable[Any]]


class OrderGuard(Protocol):
    """What the breakers and surveillance learn from the order path (core.risk.guard.SafetyGuard)."""

    def placed(self, request: OrderRequest) -> None: ...

    def venue_result(self, venue: str, ok: bool) -> None: ...


@dataclass(frozen=True)
class Operation:
    """One step of a batch: place a request, cancel or modify an order."""

    action: Literal["place", "cancel", "modify"]
    request: OrderRequest | None = None
    client_order_id: str | None = None
    price: Decimal | None = None
    size: Decimal | None = None


@dataclass
class BatchResult:
    results: list[Order | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(e is None for e in self.errors)


class TradeExecutor:
    def __init__(
        self,
        venues: Mapping[str, ExchangeAdapter],
        instruments: Mapping[tuple[str, str], Instrument],
        orders: OrderManager,
        gate: PreTradeGate,
        portfolio: PositionSource,
        clock: Clock,
        bus: EventBus,
        audit: AuditFn,
        guard: OrderGuard | None = None,
    ) -> None:
        self._venues = venues
        self._instruments = instruments
        self._orders = orders
        self._gate = gate
        self._portfolio = portfolio
        self._clock = clock
        self._bus = bus
        self._audit = audit
        self._guard = guard

    def instrument(self, venue: str, symbol: str) -> Instrument:
        try:
            return self._instruments[(venue, symbol)]
        except KeyError:
            raise OrderRefused(f"{symbol} is not a market on {venue}", "unknown_market") from None

    async def _refuse(self, request: OrderRequest, reason: str, rule: str, actor: str) -> OrderRefused:
        self._bus.publish(OrderRejected(request.client_order_id, request.symbol, reason, rule, request.strategy_id))
        try:
            await self._audit(
                "order_refused",
                {"client_order_id": request.client_order_id, "symbol": request.symbol, "venue": request.venue,
                 "side": request.side.value, "size": str(request.size), "reason": reason, "rule": rule},
                actor,
            )
        except StorageError as exc:  # the refusal stands; a failed write has already halted trading
            log.error("refusal of %s not audited: %s", request.client_order_id, exc)
        return OrderRefused(reason, rule)

    def precheck(self, request: OrderRequest, *, actor: str = "user", replacing: str | None = None) -> Refusal | None:
        """The whole pre-trade check (permission, validation, breakers, surveillance, dynamic
        risk, risk limits) without side effects. ``replacing``: the order a modification would
        cancel, left out of the working orders."""
        return self._gate.check(request, actor, exclude=replacing, dry_run=True)

    def precheck_modify(
        self, client_order_id: str, *, price: Decimal | None = None, size: Decimal | None = None, actor: str = "user"
    ) -> Refusal | None:
        replacement = self._replacement(client_order_id, price, size)
        if isinstance(replacement, Refusal):
            return replacement
        return self.precheck(replacement, actor=actor, replacing=client_order_id)

    def precheck_cancel(self, actor: str = "user") -> Refusal | None:
        return self._gate.check_cancel(actor)

    async def place_order(
        self, request: OrderRequest, *, actor: str = "user", risk_exempt: str | None = None
    ) -> Order:
        """Place an order. ``risk_exempt`` (a reason, audited) is for the engine's own
        protective orders: closing positions in an emergency stop or at a stop-loss."""
        refusal = self._gate.check(request, actor, exempt=risk_exempt is not None)
        if refusal is not None:
            raise await self._refuse(request, refusal.reason, refusal.rule, actor)
        return await self._place_checked(request, actor, risk_exempt)

    async def _place_checked(self, request: OrderRequest, actor: str, risk_exempt: str | None = None) -> Order:
        """Write, then send, a request the gate has passed."""
        order = Order.from_request(request, self._clock.now_ms())
        verdict = f"risk exempt: {risk_exempt}" if risk_exempt is not None else "risk: approved"
        try:
            await self._orders.record_new(order, actor=actor, verdict=verdict)
        except DuplicateOrderId as exc:
            raise await self._refuse(request, str(exc), "duplicate_id", actor) from None
        if self._guard is not None and risk_exempt is None:
            self._guard.placed(request)
        if risk_exempt is not None:
            await self._audit("risk_exempt_order", {"client_order_id": order.client_order_id, "reason": risk_exempt}, actor)
        kill_point("after_persist")
        return await self._send(order, actor)

    async def _send(self, order: Order, actor: str) -> Order:
        venue = self._venues[order.venue]
        try:
            report = await venue.create_order(order)
        except VenueError as exc:
            self._venue_result(order.venue, False)
            return await self._resolve_failed_send(order, exc, actor)
        self._venue_result(order.venue, True)
        kill_point("after_ack")
        applied = await self._orders.apply(report, actor=venue.name, durable=False)
        return applied or order

    def _venue_result(self, venue: str, ok: bool) -> None:
        if self._guard is not None:
            self._guard.venue_result(venue, ok)

    async def _resolve_failed_send(self, order: Order, error: VenueError, actor: str) -> Order:
        """The venue may have the order even though the call failed: ask before deciding."""
        message = redact(str(error))
        venue = self._venues[order.venue]
        try:
            found = await venue.fetch_order(order.client_order_id, order.symbol)
        except VenueError as lookup_error:
            log.warning("order %s unresolved after send failure: %s", order.client_order_id, redact(str(lookup_error)))
            await self._audit(
                "order_unresolved",
                {"client_order_id": order.client_order_id, "error": message},
                actor,
            )
            return order
        if found is not None:
            return await self._orders.apply(found, actor=venue.name) or order
        return await self._orders.mark(order, OrderStatus.REJECTED, self._clock.now_ms(), message, actor)

    async def cancel_order(self, client_order_id: str, *, actor: str = "user") -> Order:
        denied = self._gate.check_cancel(actor)
        if denied is not None:
            await self._audit("permission_denied", {"action": "cancel", "client_order_id": client_order_id,
                                                    "reason": denied.reason}, actor)
            raise OrderRefused(denied.reason, denied.rule)
        order = self._orders.track_order(client_order_id)
        if order is None:
            known = await self._orders.get(client_order_id)
            if known is None:
                raise OrderRefused(f"no order {client_order_id}", "unknown_order")
            raise OrderRefused(f"order {client_order_id} is already {known.status.value}", "not_open")
        venue = self._venues[order.venue]
        await self._audit("cancel_requested", {"client_order_id": client_order_id, "symbol": order.symbol}, actor)
        try:
            report = await venue.cancel_order(client_order_id, order.symbol)
        except VenueError as exc:
            self._venue_result(order.venue, False)
            message = redact(str(exc))
            await self._audit("cancel_failed", {"client_order_id": client_order_id, "error": message}, actor)
            raise OrderRefused(f"cancel failed: {message}", "venue_error") from None
        self._venue_result(order.venue, True)
        kill_point("after_cancel_ack")
        return await self._orders.apply(report, actor=venue.name) or order

    async def modify_order(
        self, client_order_id: str, *, price: Decimal | None = None, size: Decimal | None = None, actor: str = "user"
    ) -> Order:
        """In place where the venue amends natively (one request: same client order id, the queue
        position kept where the exchange keeps it), else cancel-replace. Either way the changed
        order passes the gate first (once, the old order left out of the working orders), so a
        refused change keeps the old order; so does an amend the exchange refuses."""
        request = self._replacement(client_order_id, price, size)
        if isinstance(request, Refusal):
            if request.rule == "validation":
                await self._audit("modify_refused", {"client_order_id": client_order_id, "price": price, "size": size,
                                                     "reason": request.reason}, actor)
            raise OrderRefused(request.reason, request.rule)
        refusal = self._gate.check(request, actor, exclude=client_order_id)
        if refusal is not None:
            raise await self._refuse(request, refusal.reason, refusal.rule, actor)
        venue = self._venues[request.venue]
        order = self._orders.track_order(client_order_id)
        if order is not None and order.type is OrderType.LIMIT and isinstance(venue, PerpetualVenue) \
                and venue.supports(Capability.AMEND):
            return await self._amend(venue, order, price, size, actor)
        canceled = await self.cancel_order(client_order_id, actor=actor)
        if canceled.status is not OrderStatus.CANCELED:
            raise OrderRefused(f"order {client_order_id} could not be canceled ({canceled.status.value})", "not_open")
        await self._audit("order_modified", {"old": client_order_id, "new": request.client_order_id}, actor)
        return await self._place_checked(request, actor)

    async def _amend(self, venue: PerpetualVenue, order: Order, price: Decimal | None, size: Decimal | None,
                     actor: str) -> Order:
        """``size`` is what is left to fill, as in a cancel-replace; the exchange is asked for
        the total (what has filled plus that)."""
        total = order.filled_size + size if size is not None else None
        try:
            amendment = await venue.amend_order(order, price=price, size=total)
        except VenueError as exc:  # AmendRefused included: the order stays as the exchange holds it
            await self._audit("modify_refused", {"client_order_id": order.client_order_id, "price": price, "size": size,
                                                 "reason": str(exc)}, actor)
            raise OrderRefused(str(exc), "venue") from None
        await self._audit("order_amended", {"client_order_id": order.client_order_id, "price": amendment.price,
                                            "size": amendment.size}, actor)
        await self._orders.amended(order, amendment.price, amendment.size, self._clock.now_ms(), actor)
        return await self._orders.apply(amendment.report) or order

    def _replacement(self, client_order_id: str, price: Decimal | None, size: Decimal | None) -> OrderRequest | Refusal:
        """The order a modification sends: the same order with the new price and the size still
        to fill (or the new size); a Refusal when the order is not open or that is no valid request."""
        order = self._orders.track_order(client_order_id)
        if order is None:
            return Refusal(f"order {client_order_id} is not open", "not_open")
        fields = order.model_dump(
            include={"venue", "symbol", "side", "type", "price", "trigger_price", "trailing_offset",
                     "time_in_force", "post_only", "reduce_only", "leverage", "take_profit", "stop_loss", "strategy_id"}
        )
        if price is not None:
            fields["price"] = price
        fields["size"] = size if size is not None else order.remaining
        try:
            return OrderRequest(**fields)
        except ValueError as exc:
            return Refusal(str(exc), "validation")

    def closing_request(self, venue: str, symbol: str, size: Decimal | None = None) -> OrderRequest | None:
        position = self._portfolio.position(venue, symbol)
        if position is None or position.size == 0:
            return None
        instrument = self.instrument(venue, symbol)
        amount = instrument.round_size(min(size, position.size) if size is not None else position.size)
        if amount <= 0:
            return None
        side = Side.SELL if position.side is PositionSide.LONG else Side.BUY
        return OrderRequest(
            venue=venue, symbol=symbol, side=side, type=OrderType.MARKET, size=amount,
            time_in_force=TimeInForce.IOC, reduce_only=instrument.is_perpetual,
        )

    async def close_position(
        self, venue: str, symbol: str, size: Decimal | None = None, *, actor: str = "user", risk_exempt: str | None = None
    ) -> Order | None:
        request = self.closing_request(venue, symbol, size)
        if request is None:
            return None
        return await self.place_order(request, actor=actor, risk_exempt=risk_exempt)

    async def cancel_all(self, venue: str | None = None, symbol: str | None = None, *, actor: str = "user") -> int:
        canceled = 0
        for order in self._orders.open_orders(venue, symbol):
            try:
                result = await self.cancel_order(order.client_order_id, actor=actor)
            except OrderRefused as exc:
                log.warning("cancel all: %s", exc.reason)
                continue
            canceled += result.status is OrderStatus.CANCELED
        return canceled

    async def close_all(self, *, actor: str = "user", risk_exempt: str | None = None) -> int:
        closed = 0
        for position in list(self._portfolio.positions()):
            try:
                order = await self.close_position(
                    position.venue, position.symbol, actor=actor, risk_exempt=risk_exempt
                )
            except OrderRefused as exc:
                log.warning("close all: %s", exc.reason)
                continue
            closed += order is not None
        return closed

    async def batch_operations(self, operations: list[Operation], *, actor: str = "user") -> BatchResult:
        """Run operations in order; one failure does not stop the rest, each gets its outcome."""
        result = BatchResult()
        for op in operations:
            try:
                if op.action == "place" and op.request is not None:
                    outcome: Order | None = await self.place_order(op.request, actor=actor)
                elif op.action == "cancel" and op.client_order_id:
                    outcome = await self.cancel_order(op.client_order_id, actor=actor)
                elif op.action == "modify" and op.client_order_id:
                    outcome = await self.modify_order(op.client_order_id, price=op.price, size=op.size, actor=actor)
                else:
                    raise OrderRefused(f"incomplete {op.action} operation", "validation")
            except OrderRefused as exc:
                result.results.append(None)
                result.errors.append(exc.reason)
            else:
                result.results.append(outcome)
                result.errors.append(None)
        return result

