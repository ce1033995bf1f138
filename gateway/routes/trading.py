"""Orders and positions: place, check, modify, cancel, cancel all, batch, close, close all."""

from __future__ import annotations

from core.api import Batch, CancelAll, CheckResult, ClosePosition, Count, ModifyOrder, SetProtection
from core.executor import BatchResult, OrderRefused
from core.models import Order, OrderRequest, ProtectiveLevels
from core.permissions import Level
from gateway.routing import Call, Routes

routes = Routes("trading")
TRADE = {"level": Level.TRADE}


@routes.route("POST", "/orders", summary="Place an order", response=Order, body=OrderRequest, status=201, **TRADE)
async def place(call: Call) -> Order:
    """The same path as an order from the ticket: validation, surveillance, permission,
    breakers, risk limits, written before it is sent. A refusal is audited, published as
    OrderRejected and answered with the app's text. Retrying with the same client_order_id
    after a lost answer is refused as a conflict (409) instead of placing the order twice."""
    return await call.engine.place_order(call.body, actor=call.actor)


@routes.route("POST", "/orders/check", summary="Validation and risk verdict on an order, without placing it",
              response=CheckResult, body=OrderRequest)
async def check(call: Call) -> CheckResult:
    """The app's check before its confirmation dialog: every rule a placement would apply
    (permission, validation, breakers, surveillance, dynamic risk, limits), counting nothing."""
    refusal = call.engine.executor.precheck(call.body, actor=call.actor)
    if refusal is None:
        return CheckResult(ok=True)
    return CheckResult(ok=False, reason=refusal.reason, rule=refusal.rule)


@routes.route("PATCH", "/orders/{client_order_id}", summary="Modify an open order (cancel-replace)", response=Order,
              body=ModifyOrder, action="modifying orders", **TRADE)
async def modify(call: Call) -> Order:
    """The replacement is checked before the order is canceled, so a refused change leaves the
    old order working. The answer is the new order (a new client order id)."""
    return await call.engine.modify_order(call.params["client_order_id"], price=call.body.price,
                                          size=call.body.size, actor=call.actor)


@routes.route("DELETE", "/orders/{client_order_id}", summary="Cancel an open order", response=Order,
              action="canceling orders", **TRADE)
async def cancel(call: Call) -> Order:
    return await call.engine.cancel_order(call.params["client_order_id"], actor=call.actor)


@routes.route("POST", "/orders/cancel-all", summary="Cancel every open order (of a venue, of a market)",
              response=Count, body=CancelAll, action="canceling orders", **TRADE)
async def cancel_all(call: Call) -> Count:
    return Count(count=await call.engine.cancel_all(call.body.venue, call.body.symbol, actor=call.actor))


@routes.route("POST", "/orders/batch", summary="Place, modify and cancel in one request, in order",
              response=BatchResult, body=Batch, action="placing, modifying and canceling orders", **TRADE)
async def batch(call: Call) -> BatchResult:
    """One refusal does not stop the rest: each operation gets its order or its reason."""
    return await call.engine.batch_operations(list(call.body.operations), actor=call.actor)


@routes.route("POST", "/positions/close", summary="Close a position with a market order", response=Order,
              body=ClosePosition, action="closing positions", **TRADE)
async def close(call: Call) -> Order:
    venue, symbol = call.venue, call.body.symbol
    order = await call.engine.close_position(venue, symbol, call.body.size, actor=call.actor)
    if order is None:
        raise OrderRefused(f"nothing to close: no open {symbol} position on {venue}", "no_position")
    return order


@routes.route("PUT", "/positions/protection", summary="Set or remove a position's stop-loss and take-profit",
              response=ProtectiveLevels | None, body=SetProtection, **TRADE)
async def protection(call: Call) -> ProtectiveLevels | None:
    """As the Positions screen's levels dialog: checked against the mark and the position's side
    (refused with the reason, rule protection), placed at the exchange where the venue holds
    reduce-only orders, else watched by the engine. The answer is the levels in force (null: none)."""
    return await call.engine.set_protection(call.venue, call.body.symbol, stop_loss=call.body.stop_loss,
                                            take_profit=call.body.take_profit, actor=call.actor)


@routes.route("POST", "/positions/close-all", summary="Close every position with market orders", response=Count,
              action="closing positions", **TRADE)
async def close_all(call: Call) -> Count:
    return Count(count=await call.engine.close_all(actor=call.actor))
